"""The API's own pages: personal tokens (made, listed, revoked) and the interactive docs."""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from drf_spectacular.views import SpectacularSwaggerSplitView

from api.models import ALL_SCOPES, ApiToken, Scope

MAX_TOKENS_PER_PERSON = 20
EXPIRY_CHOICES = [
    ("30", gettext_lazy("30 days")),
    ("90", gettext_lazy("90 days")),
    ("365", gettext_lazy("one year")),
    ("", gettext_lazy("never")),
]
# The docs page runs Swagger UI from our static files: scripts from 'self'
# only, like every page; its stylesheet sets inline styles, as the site allows.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=80,
        help_text=gettext_lazy("What the token is for, e.g. “e-diary sync”."),
    )
    expires = forms.ChoiceField(
        label=gettext_lazy("Expires after"), choices=EXPIRY_CHOICES, initial="90", required=False
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("May"),
        choices=Scope.choices,
        initial=list(ALL_SCOPES),
        widget=forms.CheckboxSelectMultiple,
    )


@login_required
def tokens(request):
    """List the person's tokens and make a new one (its secret is shown once, here)."""
    user = request.user
    if getattr(user, "service_account", None) is not None:
        raise Http404
    form = TokenForm(request.POST or None)
    secret = ""
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            live = ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
            if live >= MAX_TOKENS_PER_PERSON:
                form.add_error(
                    None,
                    _("You have %(n)s tokens; revoke one before making another.") % {"n": live},
                )
            else:
                days = form.cleaned_data["expires"]
                expires_at = timezone.now() + datetime.timedelta(days=int(days)) if days else None
                _token, secret = ApiToken.issue(
                    user=user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=expires_at,
                )
                form = TokenForm()
    rows = ApiToken.objects.filter(user=user, service_account__isnull=True).order_by(
        "revoked_at", "-created_at"
    )
    response = render(request, "api/tokens.html", {"form": form, "tokens": rows, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request, pk):
    updated = ApiToken.objects.filter(pk=pk, user=request.user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        messages.success(request, _("The token was revoked; it no longer works."))
    return redirect("api:v1:tokens")


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the project's static files (drf-spectacular-sidecar), no CDN."""

    title = "НЕИСПУО helpdesk API"

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_POLICY
        return response
