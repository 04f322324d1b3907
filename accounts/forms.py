from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.backends import may_use_local_password
from accounts.models import AccountEvent, User


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name", "language"]


class CodeForm(forms.Form):
    """Six digits from the authenticator app."""

    code = forms.CharField(
        label=_("Code from the app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "pattern": "[0-9 ]*",
            }
        ),
    )

    def clean_code(self):
        code = self.cleaned_data["code"].replace(" ", "")
        if not code.isdigit() or len(code) not in (6, 8):
            raise forms.ValidationError(_("The code is the six digits the app shows."))
        return code


class ResetRequestForm(PasswordResetForm):
    """Password reset for local accounts only, each mail in the person's language.

    People who log in through edu.mon.bg have no usable password here and get
    no mail (Django's form already leaves them out); under
    HELPDESK_LOCAL_LOGIN=admins-only, neither does anyone but administrators.
    """

    email = forms.EmailField(
        label=_("E-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    request = None  # set by the view, for the audit row

    def get_users(self, email):
        for user in super().get_users(email):
            if may_use_local_password(user):
                yield user

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context["user"]
        with translation.override(user.language or "bg"):
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )
        audit.record(
            AccountEvent.Kind.PASSWORD_RESET_REQUESTED,
            actor=None,
            subject=user,
            request=self.request,
            detail={"email": user.email},
        )
