from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MinLengthValidator, RegexValidator
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from accounts.avatars import avatar_data_uri
from accounts.models import User, username_validator
from chatsite.fields import StrictCharField
from chatsite.openapi import OBJECT_ID_PATTERN, password_min_length

# The model's rule, matched against the whole value (Python's `$` also matches before a final
# newline, so "alice\n" would pass the model's validator); the schema shows it with ECMA anchors.
exact_username_validator = RegexValidator(
    "\\A" + username_validator.regex.pattern.strip("^$") + "\\Z",
    username_validator.message,
    code=username_validator.code,
)


class PasswordField(StrictCharField):
    """A new password, checked by Django's password validators. The schema states the rules a
    pattern can (length, not only digits); "too common" and "too similar to the username or
    full name" are in its description."""

    def __init__(self, **kwargs):
        # Django's MinimumLengthValidator runs too (in `validate`); this one puts the length in
        # the schema.
        kwargs.setdefault("validators", [MinLengthValidator(password_min_length())])
        super().__init__(max_length=128, trim_whitespace=False, **kwargs)

    @property
    def schema_constraints(self) -> dict:
        return {
            # At least one character that is not a digit (Django's NumericPasswordValidator).
            "pattern": "^[^\\u0000]*[^0-9\\u0000][^\\u0000]*$",
            "description": (
                f"At least {password_min_length()} characters, not only digits, not a common "
                "password, not too similar to the username or full name (Django's password "
                "validators: `validation_error` on `password`)."
            ),
        }


class UserSerializer(serializers.Serializer):
    """The public shape of a user, with the reference design's field names."""

    _id = serializers.RegexField(OBJECT_ID_PATTERN, source="pk", read_only=True)
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
    # Not trimmed: a username with spaces around it is refused, as the schema's pattern says.
    username = StrictCharField(
        max_length=30, trim_whitespace=False, validators=[exact_username_validator]
    )
    password = PasswordField()
    confirmPassword = StrictCharField(
        max_length=128, trim_whitespace=False, help_text="Equal to `password`."
    )
    gender = serializers.ChoiceField(choices=User.Gender.choices, required=False, allow_blank=True)

    def validate(self, data):
        if data["password"] != data["confirmPassword"]:
            raise serializers.ValidationError({"confirmPassword": ["Passwords don't match."]})
        candidate = User(username=data["username"], full_name=data["fullName"])
        try:
            password_validation.validate_password(data["password"], candidate)
        except DjangoValidationError as error:
            # With their codes (`password_too_short`, ...), for the answer's `error` sentence.
            raise serializers.ValidationError({"password": get_error_detail(error)}) from None
        return data


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, trim_whitespace=False)


class RefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(
        max_length=2000, required=False,
        help_text="The refresh token; browsers leave it out and send the `jwt_refresh` cookie.",
    )  # fmt: skip


class LogoutSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=2000, required=False)


class UserListQuerySerializer(serializers.Serializer):
    search = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=100,
        help_text="Keep users whose username or full name contains this text, ignoring case.",
    )


class MessageResultSerializer(serializers.Serializer):
    message = serializers.CharField()
