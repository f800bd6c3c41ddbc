from django.contrib import admin


class ChatAdminSite(admin.AdminSite):
    site_header = "Chat administration"
    site_title = "Chat admin"
    index_title = "Moderation"
