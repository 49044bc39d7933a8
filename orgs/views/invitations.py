"""The invited person's side: the invitations waiting for them after they sign in, and the
invitation link (which also lets a newcomer choose a password)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from core.exceptions import ServiceError
from identity.models import normalize_email
from identity.selectors import user_by_email
from orgs import selectors
from orgs.forms import InvitationAcceptForm
from orgs.services import invitations


@login_required
@never_cache
def pending_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "orgs/invitations.html",
        {"invitations": selectors.pending_invitations_for(request.user)},
    )


@login_required
@require_POST
def accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept one of the signed-in person's own invitations (matched by their e-mail)."""
    mine = {i.pk: i for i in selectors.pending_invitations_for(request.user)}
    invitation = mine.get(pk)
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        invitations.invitation_accept(invitation=invitation, user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("governance:invitations")
    messages.success(request, f"You joined {invitation.org.name}.")
    return redirect(reverse("governance:me", args=[invitation.org.slug]))


@sensitive_post_parameters("password1", "password2")
@never_cache
def link_view(request: HttpRequest, secret: str) -> HttpResponse:
    """The invitation link: signed in as the invited address, accept; with an account, sign
    in first; without one, choose a name and password and join."""
    invitation = invitations.invitation_by_secret(secret[:200])
    if invitation is None or invitation.status != "pending":
        status = invitation.status if invitation else "unknown"
        return render(
            request, "orgs/invitation_link.html", {"gone": True, "status": status}, status=404
        )
    context = {"invitation": invitation}
    if request.user.is_authenticated:
        same = normalize_email(request.user.email) == normalize_email(invitation.email)
        if request.method == "POST" and same:
            try:
                invitations.invitation_accept(invitation=invitation, user=request.user)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"You joined {invitation.org.name}.")
                return redirect(reverse("governance:me", args=[invitation.org.slug]))
        context["other_account"] = not same
        return render(request, "orgs/invitation_link.html", context)
    if user_by_email(invitation.email) is not None:
        return redirect(f"{reverse('sso:login')}?next={request.path}")
    form = InvitationAcceptForm(request.POST or None, initial={"full_name": invitation.full_name})
    if request.method == "POST" and form.is_valid():
        try:
            membership = invitations.invitation_accept_new(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except ServiceError as exc:
            form.add_error("password1" if exc.field == "password" else None, exc.message)
        else:
            login(request, membership.user, backend="sso.backends.EmailBackend")
            messages.success(request, f"Welcome to {invitation.org.name}.")
            return redirect(reverse("governance:me", args=[invitation.org.slug]))
    context["form"] = form
    return render(request, "orgs/invitation_link.html", context, status=400 if form.errors else 200)
