from django import forms

from webapp.compose.services import LENGTHS, TONES

RATINGS = [("", "Not rated"), (5, "5 - great"), (4, "4 - good"), (3, "3 - okay"), (2, "2 - weak"), (1, "1 - poor")]


class ComposeForm(forms.Form):
    text = forms.CharField(
        label="What should your twin write about?",
        max_length=1800,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "e.g. Why we moved our retrieval to Postgres, and what it taught us"}
        ),
    )
    links = forms.CharField(
        label="Links to use (one per line, optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://example.com/an-article-or-paper"}),
    )
    length = forms.ChoiceField(choices=[(key, key.title()) for key in LENGTHS], initial="medium")
    tone = forms.ChoiceField(choices=list(TONES.items()), required=False, initial="")
    hashtags = forms.BooleanField(label="Hashtags", required=False, initial=True)


class GenerationEditForm(forms.Form):
    edited_post = forms.CharField(label="Your edit", required=False, widget=forms.Textarea(attrs={"rows": 10}))
    rating = forms.TypedChoiceField(choices=RATINGS, coerce=int, empty_value=None, required=False)
