"""The SSO & SCIM dashboard page (SCIM part): base URL, tokens, recent activity and errors,
and the Okta and Entra setup steps."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from audit.selectors import AuditFilter, audit_page
from governance.access import OrgView
from governance.exceptions import ServiceError, ValidationFailed
from scim import mapping, selectors, services
from scim.choices import Direction, SyncStatus
from scim.forms import ScimTokenForm


class ScimSettingsView(OrgView):
    capability = "admin.scim"

    def get(self, request: HttpRequest, secret: str | None = None) -> HttpResponse:
        activity, _ = audit_page(org=self.org, filters=AuditFilter(action="scim."), limit=20)
        return render(
            request,
            "scim/settings.html",
            {
                "base_url": request.build_absolute_uri("/scim/v2/"),
                "tokens": selectors.scim_tokens(org=self.org),
                "form": ScimTokenForm(),
                "secret": secret,
                "activity": activity,
                "errors": selectors.scim_recent_errors(org=self.org),
                "counts": selectors.scim_counts(org=self.org),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "revoke":
            token = selectors.scim_token_get(org=self.org, pk=request.POST.get("token_id"))
            if token is None:
                messages.error(request, "That SCIM token does not exist.")
            else:
                services.scim_token_revoke(token=token, actor=request.user)
                messages.success(request, f"{token} is revoked; the IdP can no longer use it.")
            return redirect("governance:scim", slug=self.org.slug)
        form = ScimTokenForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The label must be at most 100 characters.")
            return redirect("governance:scim", slug=self.org.slug)
        _, secret = services.scim_token_create(
            org=self.org, label=form.cleaned_data["label"], actor=request.user
        )
        return self.get(request, secret=secret)


class MappingView(OrgView):
    """Settings → SSO & SCIM → Role and team mapping: both directions, their tables and
    toggles, the preview (the same planner the sync runs), the last sync, and drift."""

    capability = "admin.scim"
    EXTRA_ROWS = 3

    def context(self, **extra: Any) -> dict[str, Any]:
        settings = selectors.mapping_settings(org=self.org)
        groups = list(selectors.scim_groups(org=self.org).order_by("display_name"))
        drift = selectors.mapping_drift(org=self.org)
        directions = []
        for d in Direction:
            rows = selectors.mapping_table(org=self.org, direction=d.value)
            target_model = mapping.target_model(d.value)
            directions.append(
                {
                    "key": d.value,
                    "label": d.label,
                    "use_table": settings.use_table(d.value),
                    "rows": rows,
                    "form_rows": (
                        [(r.group, r.target) for r in extra["preview_rows"]]
                        if extra.get("preview_table") == d.value
                        else [(str(r.group.scim_id), r.target_id) for r in rows]
                    ),
                    "blank_rows": range(self.EXTRA_ROWS),
                    "drift": drift[d.value],
                    "targets": list(target_model.objects.filter(org=self.org)),
                }
            )
        job = selectors.mapping_last_job(org=self.org)
        return {
            "directions": directions,
            "groups": groups,
            "job": job,
            "running": job is not None and job.status in (SyncStatus.QUEUED, SyncStatus.RUNNING),
            **extra,
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        preview = None
        flip = request.GET.get("flip")
        if flip in Direction.values:  # the preview that must precede name-based mode
            preview = selectors.mapping_preview(org=self.org, direction=flip, use_table=False)
        return render(
            request, "scim/mapping.html", self.context(preview=preview, preview_flip=flip)
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        direction = request.POST.get("direction", "")
        here = redirect("governance:scim_mapping", slug=self.org.slug)
        try:
            if action in ("preview_table", "save_table"):
                rows = self.posted_rows(direction)
                if action == "preview_table":
                    pairs = services.mapping_rows_resolve(
                        org=self.org, direction=direction, rows=rows
                    )
                    plan = selectors.mapping_preview(org=self.org, direction=direction, rows=pairs)
                    return render(
                        request,
                        "scim/mapping.html",
                        self.context(preview=plan, preview_rows=rows, preview_table=direction),
                    )
                job = services.mapping_table_replace(
                    org=self.org, direction=direction, rows=rows, actor=request.user
                )
                messages.success(
                    request,
                    "Mapping table saved; everyone is being resynced."
                    if job
                    else "The mapping table did not change.",
                )
            elif action == "name_based":
                typed = request.POST.get("confirm_text", "").strip().casefold()
                services.mapping_mode_set(
                    org=self.org,
                    direction=direction,
                    use_table=False,
                    confirm=typed == direction,
                    actor=request.user,
                )
                messages.success(request, f"{direction.title()} now follow IdP group names.")
            elif action == "use_table":
                services.mapping_mode_set(
                    org=self.org, direction=direction, use_table=True, actor=request.user
                )
                messages.success(request, f"{direction.title()} follow the mapping table again.")
            elif action == "sync":
                services.mapping_sync_start(org=self.org, actor=request.user)
                messages.success(request, "Sync started.")
            else:
                messages.error(request, "Unknown action.")
        except ServiceError as exc:
            self.fail(exc)
        return here

    def posted_rows(self, direction: str) -> list[services.MappingRow]:
        groups = self.request.POST.getlist(f"{direction}-group")
        targets = self.request.POST.getlist(f"{direction}-target")
        rows = []
        for group, target in zip(groups, targets, strict=False):
            if not group and not target:
                continue  # a blank row
            if not (group and target.isdigit()):
                raise ValidationFailed("Each row needs both an IdP group and a target.")
            rows.append(services.MappingRow(group=group, target=int(target)))
        return rows
