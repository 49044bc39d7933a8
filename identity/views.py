from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from governance.exceptions import ServiceError
from identity.forms import LoginForm, PasswordSetForm
from identity.services import user_set_password


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return reverse("governance:home")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST":
        if form.is_valid():
            user = authenticate(
                request, username=form.cleaned_data["email"], password=form.cleaned_data["password"]
            )
            if user is not None:
                login(request, user)
                if user.password_change_required:
                    return redirect(
                        reverse("identity:password_set") + "?next=" + _safe_next(request)
                    )
                return HttpResponseRedirect(_safe_next(request))
        # One answer for unknown e-mail, wrong password and deactivated user: no enumeration.
        error = "That e-mail and password do not match an active account."
    return render(
        request,
        "identity/login.html",
        {"form": form, "error": error, "next": request.GET.get("next", "")},
        status=400 if error else 200,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("identity:login")


@sensitive_post_parameters("password1", "password2")
@login_required
@never_cache
def password_set_view(request: HttpRequest) -> HttpResponse:
    form = PasswordSetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_set_password(
                user=request.user, password=form.cleaned_data["password1"], actor=request.user
            )
        except ServiceError as exc:
            form.add_error("password1", exc.message)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, "Your password is set.")
            return redirect(_safe_next(request))
    return render(
        request, "identity/password_set.html", {"form": form}, status=400 if form.errors else 200
    )
