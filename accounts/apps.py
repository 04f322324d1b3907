from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("People and organisations")

    def ready(self):
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        # Here, not at the top: these modules use the models, ready only now.
        from accounts import audit, rights_cache, second_factor
        from helpdesk.middleware import note_login

        user_logged_in.connect(second_factor.mark_password_login, dispatch_uid="hd_mark_password")
        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="hd_audit_login")
        user_logged_in.connect(note_login, dispatch_uid="hd_idle_login")
        user_login_failed.connect(audit.on_user_login_failed, dispatch_uid="hd_audit_failed")
        user_locked_out.connect(audit.on_user_locked_out, dispatch_uid="hd_audit_lockout")
        # Cached rights are forgotten whenever what they are made of changes.
        rights_cache.connect()
