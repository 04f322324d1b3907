"""The directory import in the administration: upload, preview (a dry run), confirm.

Reached from the institutions list ("Import directory"). The uploaded file is
kept in the default storage under a random name, remembered in the session of
the person who uploaded it; the preview is the dry run's report, and confirming
runs the same import for real (accounts.directory.run_import), then deletes
the file. Only administrators with the permissions the kind needs may use it.
"""

import secrets

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import directory
from helpdesk.sizes import format_size

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
SESSION_KEY = "directory_import"
STORAGE_FOLDER = "directory-imports"
# Errors and changes shown on the page; the command lists them all.
SHOWN = 200

KIND_CHOICES = [
    ("institutions", _("Institutions (code, name, kind, region, municipality, email_domains)")),
    ("memberships", _("Staff of institutions (email, full_name, institution_code, role)")),
    ("agents", _("Agents (email, full_name, tier, kind, region, competences, capacity)")),
]

# What an administrator needs to import each kind (prune needs deletion rights too).
PERMISSIONS = {
    "institutions": ["accounts.add_institution", "accounts.change_institution"],
    "memberships": [
        "accounts.add_user",
        "accounts.change_user",
        "accounts.add_membership",
        "accounts.change_membership",
    ],
    "agents": [
        "accounts.add_user",
        "accounts.change_user",
        "accounts.add_agentprofile",
        "accounts.change_agentprofile",
    ],
}
PRUNE_PERMISSIONS = {
    "institutions": [],
    "memberships": ["accounts.delete_membership", "accounts.change_delegation"],
    "agents": [],
}


def may_import(user, kind: str, prune: bool = False) -> bool:
    """Return True if `user` may import files of `kind` (with prune, if asked)."""
    if not (user.is_active and user.is_staff):
        return False
    needed = PERMISSIONS[kind] + (PRUNE_PERMISSIONS[kind] if prune else [])
    return user.has_perms(needed)


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("what the file holds"), choices=KIND_CHOICES)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 (Excel: CSV UTF-8), comma or semicolon, with a header row; at most 50 MB."
        ),
    )
    prune = forms.BooleanField(
        label=_("remove what the file leaves out"),
        required=False,
        help_text=_(
            "Staff: people missing from the file leave the institutions the file names, and "
            "their delegations there end. Institutions: those missing are deactivated."
        ),
    )
    all_or_nothing = forms.BooleanField(
        label=_("all or nothing"),
        required=False,
        help_text=_("Import nothing if any line is refused."),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _(
                    "The file is larger than %(size)s. Split it, or import it on the server "
                    "with: python manage.py import_directory."
                )
                % {"size": format_size(MAX_UPLOAD_BYTES)}
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        kind, prune = cleaned.get("kind"), cleaned.get("prune")
        if kind == "agents" and prune:
            self.add_error("prune", _("Agents cannot be pruned; deactivate them one by one."))
        elif kind and self.user is not None and not may_import(self.user, kind, bool(prune)):
            raise forms.ValidationError(_("You do not have the permissions to import this."))
        return cleaned


class DirectoryImportMixin:
    """Adds the import page to a ModelAdmin (the institutions') and a link on its list."""

    change_list_template = "admin/accounts/institution/change_list.html"

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_directory_view),
                name="accounts_institution_import_directory",
            ),
            path(
                "unknown-at-login/",
                self.admin_site.admin_view(self.unknown_codes_view),
                name="accounts_institution_unknown_codes",
            ),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_import_directory": any(may_import(request.user, kind) for kind in directory.KINDS),
            "unknown_login_codes": len(directory.unknown_login_codes()),
        }
        return super().changelist_view(request, extra_context)

    def unknown_codes_view(self, request):
        """Institution codes people named at edu.mon.bg logins that are not loaded yet."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/accounts/institution/unknown_codes.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Institution codes unknown at login"),
                "opts": self.model._meta,
                "codes": directory.unknown_login_codes(),
                "may_import_directory": any(
                    may_import(request.user, kind) for kind in directory.KINDS
                ),
            },
        )

    def import_directory_view(self, request):
        if not any(may_import(request.user, kind) for kind in directory.KINDS):
            raise PermissionDenied
        if request.method == "POST" and "confirm" in request.POST:
            return self._import_confirm(request)
        if request.method == "POST" and "cancel" in request.POST:
            _forget(request, request.POST.get("token", ""))
            return redirect(reverse("admin:accounts_institution_changelist"))
        form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            return self._import_preview(request, form)
        return self._render(request, form=form)

    def _import_preview(self, request, form):
        upload = form.cleaned_data["file"]
        token = secrets.token_urlsafe(16)
        stored = default_storage.save(f"{STORAGE_FOLDER}/{token}.csv", upload)
        pending = request.session.get(SESSION_KEY, {})
        pending[token] = {
            "path": stored,
            "name": upload.name,
            "kind": form.cleaned_data["kind"],
            "prune": form.cleaned_data["prune"],
            "all_or_nothing": form.cleaned_data["all_or_nothing"],
        }
        request.session[SESSION_KEY] = pending
        report, file_error = _run(request, pending[token], dry_run=True)
        if file_error:
            _forget(request, token)
            form.add_error("file", file_error)
            return self._render(request, form=form)
        return self._render(
            request, report=report, job=pending[token], token=token, stage="preview"
        )

    def _import_confirm(self, request):
        token = request.POST.get("token", "")
        job = request.session.get(SESSION_KEY, {}).get(token)
        if job is None:
            self.message_user(
                request,
                gettext(
                    "This import is no longer waiting for confirmation; upload the file again."
                ),
                level="error",
            )
            return redirect(reverse("admin:accounts_institution_import_directory"))
        if not may_import(request.user, job["kind"], job["prune"]):
            raise PermissionDenied
        report, file_error = _run(request, job, dry_run=False)
        _forget(request, token)
        if file_error:
            self.message_user(request, file_error, level="error")
            return redirect(reverse("admin:accounts_institution_import_directory"))
        return self._render(request, report=report, job=job, stage="done")

    def _render(self, request, **context):
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import directory"),
            "opts": opts,
            "max_shown": SHOWN,
            **context,
        }
        report = context.get("report")
        if report is not None:
            context["errors_shown"] = report.errors[:SHOWN]
            context["errors_left_out"] = max(0, len(report.errors) - SHOWN)
            context["summary"] = report.summary()
        return TemplateResponse(
            request, "admin/accounts/institution/import_directory.html", context
        )


def _run(request, job: dict, *, dry_run: bool):
    """Run the import of a stored upload; return (report, None) or (None, file error)."""
    try:
        with default_storage.open(job["path"], "rb") as stream:
            report = directory.run_import(
                job["kind"],
                directory.decode_lines(stream),
                dry_run=dry_run,
                prune=job["prune"],
                all_or_nothing=job["all_or_nothing"],
                actor=request.user,
                max_changes=SHOWN,
            )
    except directory.DirectoryFileError as error:
        return None, str(error)
    except FileNotFoundError:
        return None, gettext("The uploaded file is gone; upload it again.")
    return report, None


def _forget(request, token: str) -> None:
    pending = request.session.get(SESSION_KEY, {})
    job = pending.pop(token, None)
    if job is None:
        return
    request.session[SESSION_KEY] = pending
    default_storage.delete(job["path"])
