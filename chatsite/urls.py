from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from accounts.urls import page_urlpatterns
from chatsite.api_root import ApiRootApi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", ApiRootApi.as_view(), name="api-root"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"),
        name="api-redoc",
    ),
    path("api/", include("accounts.urls")),
    path("api/", include("messaging.urls")),
    path("", include(page_urlpatterns)),
    path("", include("realtime.urls")),
]

handler404 = "chatsite.views.not_found"
handler500 = "chatsite.views.internal_error"
handler400 = "chatsite.views.bad_request"
