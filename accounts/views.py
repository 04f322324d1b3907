from urllib.parse import urlencode

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import audit
from accounts.forms import CodeForm, LoginForm, ProfileForm, ResetRequestForm
from accounts.models import AccountEvent
from accounts.second_factor import (
    confirmed_device,
    otp_required_for,
    pending_device,
    qr_svg,
    secret_text,
)

Kind = AccountEvent.Kind


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["local_login_admins_only"] = settings.HELPDESK_LOCAL_LOGIN == "admins-only"
        return context


def locked_out(request, original_response=None, credentials=None):
    """The login page again, saying the login is locked (django-axes' AXES_LOCKOUT_CALLABLE)."""
    minutes = int(audit.lockout_period().total_seconds() // 60)
    return render(
        request,
        "accounts/login.html",
        {
            "form": LoginForm(request, initial={"username": request.POST.get("username", "")}),
            "locked_out": True,
            "lockout_minutes": minutes,
            "next": request.POST.get("next", ""),
            "local_login_admins_only": settings.HELPDESK_LOCAL_LOGIN == "admins-only",
        },
        status=429,
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        translation.activate(user.language)
        response = redirect("accounts:profile")
        response.set_cookie("django_language", user.language, samesite="Lax")
        messages.success(request, _("Your settings were saved."))
        return response
    return render(request, "accounts/profile.html", {"form": form})


# --------------------------------------------------------------------------- second factor


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(name: str, request) -> str:
    return f"{reverse(name)}?{urlencode({'next': _next_url(request)})}"


def _verified(request, device, kind: str) -> None:
    django_otp.login(request, device)
    # The session gained rights: give it a new key, as a login does.
    request.session.cycle_key()
    audit.record(kind, subject=request.user, request=request, detail={"device": device.name})


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request):
    """After the password: the code from the authenticator app."""
    user = request.user
    if not otp_required_for(user) or request.user.is_verified():
        return redirect(_next_url(request))
    device = confirmed_device(user)
    if device is None:
        return redirect(_with_next("accounts:second_factor_setup", request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _why = device.verify_is_allowed()
        if not allowed:
            form.add_error("code", _("Too many wrong codes. Wait a minute and try again."))
        elif device.verify_token(form.cleaned_data["code"]):
            _verified(request, device, Kind.OTP_VERIFIED)
            return redirect(_next_url(request))
        else:
            audit.record(Kind.OTP_FAILED, subject=user, request=request)
            form.add_error("code", _("This code is not valid. Check the time on your phone."))
    return render(
        request, "accounts/second_factor.html", {"form": form, "next": _next_url(request)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def second_factor_setup(request):
    """The first time: a new secret for the authenticator app, confirmed with a code."""
    user = request.user
    if not otp_required_for(user):
        return redirect(_next_url(request))
    if confirmed_device(user) is not None:
        # Replacing a device is for an administrator (delete it in the admin).
        return redirect(_with_next("accounts:second_factor", request))
    device = pending_device(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _why = device.verify_is_allowed()
        if not allowed:
            form.add_error("code", _("Too many wrong codes. Wait a minute and try again."))
        elif device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            _verified(request, device, Kind.OTP_ENROLLED)
            messages.success(request, _("The second factor is set up."))
            return redirect(_next_url(request))
        else:
            audit.record(Kind.OTP_FAILED, subject=user, request=request, detail={"setup": True})
            form.add_error("code", _("This code is not valid. Check the time on your phone."))
    uri = device.config_url
    return render(
        request,
        "accounts/second_factor_setup.html",
        {
            "form": form,
            "next": _next_url(request),
            "secret": secret_text(device),
            "otpauth_uri": uri,
            "qr_svg": qr_svg(uri),
        },
    )


# --------------------------------------------------------------------------- password reset


def _over_limit(key: str, limit: int) -> bool:
    """Count one more under `key` for an hour; True once the count passes `limit`."""
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count > limit


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link; limited per client address and per e-mail address.

    The page after it says the same whether or not the address has an
    account, so it tells nobody who is registered.
    """

    form_class = ResetRequestForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self):
        # Links are built from SITE_URL, never from the Host header of the request.
        return {"site_url": settings.SITE_URL}

    def form_valid(self, form):
        ip = audit.client_ip(self.request) or "unknown"
        if _over_limit(f"pwreset:ip:{ip}", settings.HELPDESK_PASSWORD_RESETS_PER_CLIENT_HOUR):
            form.add_error(
                None, _("Too many reset requests from your network. Try again in an hour.")
            )
            return self.form_invalid(form)
        address = form.cleaned_data["email"].strip().lower()
        if _over_limit(f"pwreset:to:{address}", settings.HELPDESK_PASSWORD_RESETS_PER_ADDRESS_HOUR):
            # Say what we say after sending, and send nothing more.
            return redirect(self.get_success_url())
        form.request = self.request
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        audit.record(Kind.PASSWORD_RESET_DONE, subject=user, request=self.request)
        # Proving the mailbox lifts a lockout of this address.
        AxesProxyHandler.reset_attempts(username=user.email.lower())
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
