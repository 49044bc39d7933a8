from django import forms


class ScimTokenForm(forms.Form):
    label = forms.CharField(
        max_length=100, required=False, help_text="Where the token is used, e.g. 'Okta production'."
    )
