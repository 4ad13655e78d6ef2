from django import forms

from webapp.sources.models import Source, Upload

PLATFORM_CHOICES = [("auto", "Detect from the address"), *Source.Platform.choices]


class SourceForm(forms.Form):
    platform = forms.ChoiceField(choices=PLATFORM_CHOICES, initial="auto")
    url = forms.CharField(
        label="Address",
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "@handle, https://you.substack.com, github.com/you, ..."}),
    )
    is_active = forms.BooleanField(label="Collect from it", required=False, initial=True)
    confirmed_own = forms.BooleanField(
        label="Only my own writing",
        required=False,
        help_text="For a Substack or Medium publication: every post in it is yours (others' posts would teach "
        "your twin someone else's voice).",
    )


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label="Export from", choices=Upload.Kind.choices)
    file = forms.FileField(label="Export archive (.zip)", widget=forms.ClearableFileInput(attrs={"accept": ".zip"}))
    publication_url = forms.CharField(
        label="Substack publication address",
        required=False,
        max_length=2000,
        help_text="Substack only, when the export does not name it (e.g. a custom domain).",
    )
