"""The sign-in pages: e-mail first (an address in a domain whose organization signs in with
SSO goes to its IdP), password sign-in with throttling and break-glass, sign-out, and the
password a person sets for themselves."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.context import current_context
from core.exceptions import ServiceError
from core.urlsafety import safe_local_path
from sso.forms import EmailForm, LoginForm, PasswordSetForm
from sso.selectors import break_glass_orgs, password_blocked_by_sso, sso_route
from sso.services.signin import break_glass_record, login_record_failure, password_change
from sso.throttle import signin_blocked, signin_failed, signin_succeeded


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return safe_local_path(target) or reverse("governance:home")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """E-mail first. An address in a domain whose org uses SSO goes to that org's IdP; any
    other address (known or not: the answer is the same) is asked for its password."""
    # `reauth`: an organization ended this session's access to it; signing in again (as anyone)
    # starts a new session stamp.
    if request.user.is_authenticated and not (
        request.GET.get("reauth") or request.POST.get("reauth")
    ):
        return redirect(_safe_next(request))
    next_path = request.POST.get("next") or request.GET.get("next", "")
    email_form = EmailForm(request.POST or None)
    if request.method == "POST" and "password" not in request.POST:
        if email_form.is_valid():
            email = email_form.cleaned_data["email"]
            route = sso_route(email)
            if route is not None:
                protocol, slug = route
                target = reverse(f"sso:{protocol}_login", args=[slug])
                safe = safe_local_path(next_path)
                return redirect(target + (f"?next={quote(safe)}" if safe else ""))
            return _login_page(request, LoginForm(initial={"email": email}), next_path)
        return _login_page(request, None, next_path, email_form=email_form, status=400)
    if request.method != "POST":
        if request.GET.get("password") == "1":  # break-glass and plain password sign-in
            return _login_page(request, LoginForm(), next_path)
        return _login_page(request, None, next_path, email_form=EmailForm())
    form = LoginForm(request.POST)
    error = "That e-mail and password do not match an active account."
    ip = current_context().ip
    if form.is_valid() and signin_blocked(form.cleaned_data["email"], ip):
        login_record_failure(
            email=form.cleaned_data["email"], reason="too many failed attempts (throttled)"
        )
        minutes = settings.SIGNIN_FAILURE_WINDOW_SECONDS // 60
        error = (
            f"Too many failed sign-ins for this address or network. Try again in {minutes} minutes."
        )
        return _login_page(request, form, next_path, error=error, status=429)
    if form.is_valid():
        user = authenticate(
            request, username=form.cleaned_data["email"], password=form.cleaned_data["password"]
        )
        if user is not None and password_blocked_by_sso(user):
            login_record_failure(
                email=user.email,
                reason="password refused: the organization requires SSO (not an admin)",
            )
            error = (
                "Your organization requires single sign-on: sign in through your identity "
                "provider (enter your e-mail on the sign-in page)."
            )
        elif user is not None:
            signin_succeeded(form.cleaned_data["email"])
            login(request, user)
            glass = break_glass_orgs(user)
            if glass:
                break_glass_record(user=user, orgs=glass)
            if user.password_change_required:
                return redirect(reverse("sso:password_set") + "?next=" + _safe_next(request))
            return HttpResponseRedirect(_safe_next(request))
        if user is None:
            signin_failed(form.cleaned_data["email"], ip)
    # One answer for unknown e-mail, wrong password and deactivated user: no enumeration.
    return _login_page(request, form, next_path, error=error, status=400)


def _login_page(
    request: HttpRequest,
    form: LoginForm | None,
    next_path: str,
    *,
    email_form: EmailForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "sso/login.html",
        {"form": form, "email_form": email_form, "error": error, "next": next_path},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("sso:login")


@sensitive_post_parameters("password1", "password2")
@login_required
@never_cache
def password_set_view(request: HttpRequest) -> HttpResponse:
    form = PasswordSetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = password_change(
                user=request.user, password=form.cleaned_data["password1"], actor=request.user
            )
        except ServiceError as exc:
            form.add_error("password1", exc.message)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, "Your password is set.")
            return redirect(_safe_next(request))
    return render(
        request, "sso/password_set.html", {"form": form}, status=400 if form.errors else 200
    )
