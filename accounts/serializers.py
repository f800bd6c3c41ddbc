from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.avatars import avatar_data_uri
from accounts.models import User, username_validator
from chatsite.fields import StrictCharField


class UserSerializer(serializers.Serializer):
    """The public shape of a user, with the reference design's field names."""

    _id = serializers.CharField(source="pk", read_only=True)
    fullName = serializers.CharField(source="full_name", read_only=True)
    username = serializers.CharField(read_only=True)
    gender = serializers.CharField(read_only=True)
    profilePic = serializers.SerializerMethodField()

    def get_profilePic(self, user) -> str:
        return avatar_data_uri(str(user.pk), user.full_name, user.username)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class AuthResultSerializer(UserSerializer):
    """A user plus a fresh token pair (signup and login answers)."""

    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class SignupSerializer(serializers.Serializer):
    fullName = StrictCharField(max_length=100, trim_whitespace=True)
    username = StrictCharField(max_length=30, validators=[username_validator])
    password = StrictCharField(max_length=128, trim_whitespace=False)
    confirmPassword = StrictCharField(max_length=128, trim_whitespace=False)
    gender = serializers.ChoiceField(choices=User.Gender.choices, required=False, allow_blank=True)

    def validate(self, data):
        if data["password"] != data["confirmPassword"]:
            raise serializers.ValidationError({"confirmPassword": ["Passwords don't match."]})
        candidate = User(username=data["username"], full_name=data["fullName"])
        try:
            password_validation.validate_password(data["password"], candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return data


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, trim_whitespace=False)


class RefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=2000)


class LogoutSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=2000, required=False)


class MessageResultSerializer(serializers.Serializer):
    message = serializers.CharField()
