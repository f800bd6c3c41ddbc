from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class ApiRootApi(APIView):
    """Entry point of the browsable API: links to every resource."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request):
        def link(name):
            return reverse(name, request=request)

        return Response(
            {
                "signup": link("auth-signup"),
                "login": link("auth-login"),
                "refresh": link("auth-refresh"),
                "logout": link("auth-logout"),
                "me": link("auth-me"),
                "users": link("user-list"),
                "conversations": link("conversation-list"),
                "sync": link("sync"),
                "schema": link("schema"),
                "docs": link("api-docs"),
            }
        )
