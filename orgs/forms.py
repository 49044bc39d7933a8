from __future__ import annotations

from django import forms

from orgs import rbac
from orgs.choices import RbacRole


class MemberAddForm(forms.Form):
    email = forms.EmailField(max_length=254)
    full_name = forms.CharField(max_length=200, required=False, label="Full name")
    role = forms.ChoiceField(choices=RbacRole.choices, initial=RbacRole.MEMBER, label="RBAC role")


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=RbacRole.choices, label="RBAC role")


class CustomRoleForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=300, required=False)
    permissions = forms.MultipleChoiceField(
        choices=[(c.code, c.label) for c in rbac.CATALOG],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)


class ApiKeyForm(forms.Form):
    label = forms.CharField(max_length=100, required=False)


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False, label="Full name")
    password1 = forms.CharField(widget=forms.PasswordInput, label="Choose a password")
    password2 = forms.CharField(widget=forms.PasswordInput, label="Repeat it")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        return data
