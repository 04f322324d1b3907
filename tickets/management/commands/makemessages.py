"""Django's makemessages, also reading the `t("…")` shorthand of the project's scripts.

The console's and the portal's scripts call gettext through a short alias
(`var t = window.gettext || …`). xgettext only extracts the functions it is
told about, so without this their strings never reached djangojs.po and the
Bulgarian interface showed them in English. Only the JavaScript domain gets
the extra keyword: in Python a `t(` is not a translation.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    def handle(self, *args, **options):
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=t"]
        return super().handle(*args, **options)
