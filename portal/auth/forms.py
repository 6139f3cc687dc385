"""Forms of the auth area: they normalise input and say what to fix, in place."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from ..extensions import db
from ..models import Membership, User
from ..services.agencies import normalise_email
from .passwords import MAX_LENGTH as PASSWORD_MAX
from .passwords import password_problems

EMAIL_MAX = 254
NAME_MAX = 120
CODE_MAX = 32


def _normalise_email(value: str | None) -> str:
    return normalise_email(value) if value else ""


def _one_line(value: str | None) -> str:
    """Trim and collapse whitespace: names end up in e-mail headers and page titles."""
    return " ".join(value.split()) if value else ""


def _required():
    return DataRequired(message=_l("This field is required."))


def _max(n: int):
    return Length(max=n, message=_l("Use at most %(max)d characters.", max=n))


class EmailAddress:
    """A syntactically valid address (no DNS lookup), in a message people understand.

    Reserved test domains (`.test`) are accepted outside production only.
    """

    def __call__(self, form, field) -> None:
        if not field.data or len(field.data) > EMAIL_MAX:
            return  # too long: the length check says so (and the parser is slow on it)
        try:
            validate_email(
                field.data,
                check_deliverability=False,
                test_environment=current_app.config["LATCHKEY_ENV"] != "production",
            )
        except EmailNotValidError:
            raise ValidationError(
                _l("Enter a valid e-mail address, like name@example.com.")
            ) from None


class LooseEmail:
    """Enough of an address to look up (sign-in, reset): the full check ran at sign-up."""

    def __call__(self, form, field) -> None:
        if field.data and "@" not in field.data:
            raise ValidationError(_l("Enter a valid e-mail address, like name@example.com."))


def email_field(label=None, strict: bool = True) -> StringField:
    return StringField(
        label or _l("E-mail"),
        filters=[_normalise_email],
        validators=[_required(), _max(EMAIL_MAX), EmailAddress() if strict else LooseEmail()],
    )


def context_words(*values: str) -> list[str]:
    """What a guesser tries first, from names and addresses: each value, its words,
    and its words run together ("Northwind Media" -> "northwindmedia")."""
    words: list[str] = []
    for value in values:
        if not value:
            continue
        value = value.lower()
        parts = [p for p in re.split(r"[^\w]+", value) if len(p) >= 3]
        words += [value, *parts, "".join(parts)]
    return [w for w in dict.fromkeys(words) if w]


class NewPasswordMixin:
    """A new password and its confirmation, checked against the password policy."""

    # Length is checked by the policy (password_problems), with its own message.
    password = PasswordField(_l("Password"), validators=[_required()])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            _required(),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )

    def password_context(self) -> list[str]:
        """Words a guesser would try first: the person's e-mail and names."""
        return []

    def validate_password(self, field) -> None:
        if field.data:
            problems = password_problems(field.data, context_words(*self.password_context()))
            if problems:
                raise ValidationError(problems[0])


class LoginForm(FlaskForm):
    email = email_field(strict=False)
    password = PasswordField(_l("Password"), validators=[_required(), _max(PASSWORD_MAX)])
    remember = BooleanField(_l("Keep me signed in on this device"), default=False)


_CODE_INPUT = {
    "autocomplete": "one-time-code",
    "autocapitalize": "none",
    "spellcheck": "false",
    "autocorrect": "off",
}


class TwoFactorForm(FlaskForm):
    code = StringField(
        _l("Authentication code"),
        filters=[lambda v: "".join(v.split()) if v else ""],
        validators=[_required(), _max(CODE_MAX)],
        render_kw=_CODE_INPUT,
    )


class SignupForm(NewPasswordMixin, FlaskForm):
    agency_name = StringField(
        _l("Agency name"), filters=[_one_line], validators=[_required(), _max(NAME_MAX)]
    )
    name = StringField(
        _l("Your name"), filters=[_one_line], validators=[_required(), _max(NAME_MAX)]
    )
    email = email_field(_l("Work e-mail"))

    def password_context(self) -> list[str]:
        return [self.email.data or "", self.name.data or "", self.agency_name.data or ""]

    # No "this address already has an account" here: the answer must not tell.


class ResetRequestForm(FlaskForm):
    email = email_field(strict=False)


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def password_context(self) -> list[str]:
        return [self.user.email, self.user.name]


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[_required(), _max(PASSWORD_MAX)]
    )
    password = PasswordField(_l("New password"), validators=[_required()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            _required(),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def password_context(self) -> list[str]:
        return [self.user.email, self.user.name]

    def validate_current_password(self, field) -> None:
        from .passwords import verify_password

        if field.data and not verify_password(self.user.password_hash, field.data):
            raise ValidationError(_l("This is not your current password."))


class ConfirmPasswordForm(FlaskForm):
    """Re-enter the password before a sensitive change (turning 2FA off, new codes)."""

    password = PasswordField(_l("Your password"), validators=[_required(), _max(PASSWORD_MAX)])

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_password(self, field) -> None:
        from .passwords import verify_password

        if field.data and not verify_password(self.user.password_hash, field.data):
            raise ValidationError(_l("This is not your current password."))


class TotpConfirmForm(FlaskForm):
    code = StringField(
        _l("Code from your app"),
        filters=[lambda v: "".join(v.split()) if v else ""],
        validators=[_required(), _max(CODE_MAX)],
        render_kw={**_CODE_INPUT, "inputmode": "numeric"},
    )


class InviteForm(FlaskForm):
    email = email_field()
    # Member by default: giving more is a choice the inviter makes on purpose.
    role = SelectField(_l("Role"), validators=[_required()], default="member")

    def __init__(self, *args, agency_id: int, role_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id = agency_id
        self.role.choices = role_choices

    def validate_email(self, field) -> None:
        already = db.session.execute(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.agency_id == self.agency_id, User.email == field.data)
        ).first()
        if already:
            raise ValidationError(_l("This person is already a member of your agency."))


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), validators=[_required()])

    def __init__(self, *args, role_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class RequireTwoFactorForm(FlaskForm):
    require_2fa = BooleanField(_l("Require two-factor authentication for everyone in this agency"))


class AcceptNewUserForm(NewPasswordMixin, FlaskForm):
    name = StringField(
        _l("Your name"), filters=[_one_line], validators=[_required(), _max(NAME_MAX)]
    )

    def __init__(self, *args, email: str, agency_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email
        self.agency_name = agency_name

    def password_context(self) -> list[str]:
        return [self.email, self.name.data or "", self.agency_name]


class SwitchAgencyForm(FlaskForm):
    agency_id = HiddenField(validators=[_required(), _max(20)])


class DeleteAgencyForm(FlaskForm):
    """Deleting the agency: the owner types its name and their password."""

    confirm_name = StringField(
        _l("Type the agency's name to confirm"), validators=[DataRequired(), Length(max=200)]
    )
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
