from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, MinLengthValidator, RegexValidator
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from accounts.avatars import avatar_data_uri
from accounts.models import LoginSession, User, username_validator
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

    def __init__(self, *, field_name: str = "password", **kwargs):
        self.field_name_in_errors = field_name
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
                f"validators: `validation_error` on `{self.field_name_in_errors}`)."
            ),
        }


class EmailField(StrictCharField):
    """An email address (Django's `EmailValidator`), at most 254 characters, kept as sent."""

    def __init__(self, **kwargs):
        super().__init__(
            max_length=254, trim_whitespace=True, validators=[EmailValidator()], **kwargs
        )

    @property
    def schema_constraints(self) -> dict:
        return {"format": "email"}


class UserSerializer(serializers.Serializer):
    """The public shape of a user, with the reference design's field names (never the email).
    A deleted account shows as "Deleted user"."""

    _id = serializers.RegexField(OBJECT_ID_PATTERN, source="pk", read_only=True)
    fullName = serializers.CharField(source="full_name", read_only=True)
    username = serializers.CharField(read_only=True)
    gender = serializers.CharField(read_only=True)
    profilePic = serializers.SerializerMethodField()

    def get_profilePic(self, user) -> str:
        return avatar_data_uri(str(user.pk), user.full_name, user.username)


class MeSerializer(UserSerializer):
    """The caller's own account: the public shape plus their email (null when none)."""

    email = serializers.EmailField(read_only=True, allow_null=True)


# Answers only: `required=False` (not read_only) lets the schema say the tokens may be absent.
BROWSER_NOTE = (
    " Left out of the answer to a same-origin browser request (`Sec-Fetch-Site: same-origin`, "
    "or an `Origin` equal to the server's own): the httpOnly cookies carry the session there."
)


def _token_field(kind: str) -> serializers.CharField:
    return serializers.CharField(required=False, help_text=f"The {kind} token." + BROWSER_NOTE)


class TokenPairSerializer(serializers.Serializer):
    access = _token_field("access")
    refresh = _token_field("refresh")


class AuthResultSerializer(UserSerializer):
    """A user plus a fresh token pair (signup and login answers)."""

    access = _token_field("access")
    refresh = _token_field("refresh")


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
    email = EmailField(required=False, allow_null=True, help_text="Optional; for password resets.")

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


class LoginSessionSerializer(serializers.Serializer):
    """One of the caller's live login sessions; `current` is the one of this request's token."""

    id = serializers.CharField(source="sid", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", read_only=True)
    userAgent = serializers.CharField(source="user_agent", read_only=True)
    current = serializers.SerializerMethodField()

    def get_current(self, session: LoginSession) -> bool:
        return session.sid == self.context.get("current_sid")


class MeUpdateSerializer(serializers.Serializer):
    """The fields of `PATCH /api/auth/me`; each is optional, an absent one is left unchanged."""

    fullName = StrictCharField(max_length=100, trim_whitespace=True, required=False)
    username = StrictCharField(
        max_length=30, trim_whitespace=False, validators=[exact_username_validator], required=False
    )
    gender = serializers.ChoiceField(choices=User.Gender.choices, required=False, allow_blank=True)
    email = EmailField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text='null or "" removes it. A change takes `currentPassword`.',
    )
    currentPassword = StrictCharField(
        max_length=128,
        trim_whitespace=False,
        required=False,
        help_text="Your password: required when `email` changes (`400 wrong_password` if wrong).",
    )


def _validate_new_password(data: dict, user: User | None) -> dict:
    if data["newPassword"] != data["confirmPassword"]:
        raise serializers.ValidationError({"confirmPassword": ["Passwords don't match."]})
    try:
        password_validation.validate_password(data["newPassword"], user)
    except DjangoValidationError as error:
        raise serializers.ValidationError({"newPassword": list(error.messages)}) from None
    return data


def _confirm_field() -> StrictCharField:
    return StrictCharField(
        max_length=128, trim_whitespace=False, help_text="Equal to `newPassword`."
    )


class PasswordChangeSerializer(serializers.Serializer):
    currentPassword = StrictCharField(max_length=128, trim_whitespace=False)
    newPassword = PasswordField(field_name="newPassword")
    confirmPassword = _confirm_field()

    def validate(self, data):
        return _validate_new_password(data, self.context.get("user"))


class PasswordResetRequestSerializer(serializers.Serializer):
    login = StrictCharField(max_length=254, help_text="A username or an email address.")


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = StrictCharField(max_length=64, help_text="From the reset link: `/reset/<uid>/<token>/`.")
    token = StrictCharField(max_length=128, help_text="From the reset link.")
    newPassword = PasswordField(field_name="newPassword")
    confirmPassword = _confirm_field()

    def validate(self, data):
        # Django's validators run again with the user (similarity) once the link is checked.
        return _validate_new_password(data, None)


class AccountDeleteSerializer(serializers.Serializer):
    password = StrictCharField(max_length=128, trim_whitespace=False)
