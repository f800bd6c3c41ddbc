from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

username_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]{3,30}$",
    "Usernames have 3 to 30 letters, digits, dots, dashes or underscores.",
    code="invalid_username",
)


# A deleted account's username is this and its id (signup can't produce it: no ":").
DELETED_USERNAME_PREFIX = "del:"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # Logins are case-insensitive, like the uniqueness of usernames.
        return self.get(username_key=str(username).lower())

    def create_user(self, username, password=None, **extra):
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(username, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    class Gender(models.TextChoices):
        MALE = "male"
        FEMALE = "female"
        OTHER = "other"

    username = models.CharField(max_length=30, unique=True, validators=[username_validator])
    # Lowercased copy of `username`: its unique index makes "Alice" and "alice" one account.
    username_key = models.CharField(max_length=30, unique=True, editable=False)
    full_name = models.CharField(max_length=100)
    # Optional, for password resets. `email_key` is its lowercased copy; the backend makes a
    # unique index partial (`$type: string`), so any number of users can have none (null).
    email = models.EmailField(max_length=254, null=True, blank=True)
    email_key = models.CharField(max_length=254, null=True, blank=True, unique=True, editable=False)
    gender = models.CharField(max_length=6, choices=Gender.choices, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # When the person deleted their account: the row stays (their conversations refer to it),
    # anonymised (services.user_delete). Set first: an account with it and no `del:` username
    # is a deletion that did not finish.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["username_key"]
        # Moderators get this instead of `change_user`, which would let them edit anyone's
        # permissions (their own included).
        permissions = [("deactivate_user", "Can deactivate users")]
        indexes = [
            # The unique index on email_key is partial, and the embedded database uses no
            # partial index for a lookup (a reset by email would scan every user).
            models.Index(fields=["email_key"], name="user_by_email_key"),
        ]

    def __str__(self):
        return self.username

    def save(self, *args, **kwargs):
        self.username_key = self.username.lower()
        self.email = self.email or None
        self.email_key = self.email.lower() if self.email else None
        super().save(*args, **kwargs)

    def get_full_name(self):
        return self.full_name

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.username

    def validate_unique(self, exclude=None):
        super().validate_unique(exclude)
        # A username that already failed validation (the admin's add form) is None or excluded.
        if not self.username or (exclude and "username" in exclude):
            return
        clash = User.objects.filter(username_key=self.username.lower()).exclude(pk=self.pk)
        if clash.exists():
            from django.core.exceptions import ValidationError

            raise ValidationError({"username": "That username is taken."}, code="username_taken")
        if self.email and not (exclude and "email" in exclude):
            clash = User.objects.filter(email_key=self.email.lower()).exclude(pk=self.pk)
            if clash.exists():
                from django.core.exceptions import ValidationError

                raise ValidationError({"email": "That email is in use."}, code="email_taken")


class RevokedToken(models.Model):
    """A refresh token that may no longer be used (logout or rotation), by its `jti`.

    Rows can be deleted once `expires_at` has passed: the token is refused as expired anyway."""

    jti = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    # The login session the token belonged to; sockets of a logged-out session are closed.
    session_id = models.CharField(max_length=64, blank=True)
    # True when revoked by logout (the session ended), False when replaced by a refresh.
    logout = models.BooleanField(default=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session_id"], name="revoked_by_session")]

    def __str__(self):
        return self.jti


class LoginSession(models.Model):
    """One login (signup, login): the `sid` claim of its tokens, kept across refreshes. Ended by
    logout, by the user from another device, by a password change or reset, by an admin, or
    when a refresh token is reused; `ended_at` is then set (and a `RevokedToken` row
    `session:<sid>` refuses its refresh tokens, as for sessions from before this table)."""

    USER_AGENT_MAX = 256

    sid = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Moved at most every `tokens.TOUCH_INTERVAL` (a write per request would be too many).
    last_used_at = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=USER_AGENT_MAX, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The unique index on sid is partial (the backend's `$type` filter) and the
            # embedded database uses no partial index for a lookup: every request reads by sid.
            models.Index(fields=["sid"], name="login_session_by_sid"),
            models.Index(fields=["user", "-last_used_at"], name="login_session_by_user"),
        ]

    def __str__(self):
        return f"session {self.sid} of {self.user_id}"
