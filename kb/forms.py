"""Forms of the knowledge base's admin: article files are checked by their content."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from helpdesk.uploads import UploadRejected, check_file
from kb.models import KB_FILE_TYPES, ArticleAttachment


class ArticleAttachmentForm(forms.ModelForm):
    """Upload a PDF or an image; the stored name and type come from the checked content."""

    upload = forms.FileField(
        label=_("file"),
        required=False,
        help_text=_("PDF, PNG, JPEG, GIF or WebP. Link to it from the text with its address."),
    )

    class Meta:
        model = ArticleAttachment
        fields = ("upload",)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("upload")
        if upload is None:
            if not self.instance.pk and self.has_changed():
                raise forms.ValidationError(_("Choose a file."))
            return cleaned
        if upload.size > settings.HELPDESK["MAX_FILE_BYTES"]:
            raise forms.ValidationError(_("The file is too large."))
        try:
            self.checked = check_file(upload.name, upload.read(), allowed=KB_FILE_TYPES)
        except UploadRejected as rejected:
            raise forms.ValidationError(rejected.reason)
        return cleaned

    def save(self, commit=True):
        from django.core.files.base import ContentFile

        attachment = super().save(commit=False)
        checked = getattr(self, "checked", None)
        if checked is not None:
            attachment.original_name = checked.name
            attachment.content_type = checked.content_type
            attachment.size = checked.size
            attachment.sha256 = checked.sha256
            attachment.file.save(checked.name, ContentFile(checked.content), save=False)
        if commit:
            attachment.save()
        return attachment
