"""Settings → SSO & SCIM → Role and team mapping: both directions, their tables and toggles,
the preview (the same planner the sync runs), the last sync, and drift. One URL per form."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import ServiceError, ValidationFailed
from core.input import as_id
from mapping import selectors
from mapping.choices import Direction, SyncStatus
from mapping.services import sync, table
from orgs.access import OrgActionView, OrgView

EXTRA_ROWS = 3


class MappingPageView(OrgView):
    capability = "admin.scim"

    def context(self, **extra: Any) -> dict[str, Any]:
        settings = selectors.mapping_settings(org=self.org)
        drift = selectors.mapping_drift(org=self.org)
        directions = []
        for d in Direction:
            rows = selectors.mapping_table(org=self.org, direction=d.value)
            directions.append(
                {
                    "key": d.value,
                    "label": d.label,
                    "use_table": settings.use_table(d.value),
                    "rows": rows,
                    "form_rows": (
                        [(r.group, r.target) for r in extra["preview_rows"]]
                        if extra.get("preview_table") == d.value
                        else [(str(r.group.uid), r.target_id) for r in rows]
                    ),
                    "blank_rows": range(EXTRA_ROWS),
                    "drift": drift[d.value],
                    "targets": selectors.mapping_targets(org=self.org, direction=d.value),
                }
            )
        job = selectors.mapping_last_job(org=self.org)
        return {
            "directions": directions,
            "groups": selectors.idp_groups(org=self.org),
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
            request, "mapping/mapping.html", self.context(preview=preview, preview_flip=flip)
        )


def posted_rows(request: HttpRequest, direction: str) -> list[table.MappingRow]:
    groups = request.POST.getlist(f"{direction}-group")
    targets = request.POST.getlist(f"{direction}-target")
    rows = []
    for group, target in zip(groups, targets, strict=False):
        if not group and not target:
            continue  # a blank row
        target_id = as_id(target)
        if not (group and target_id):
            raise ValidationFailed("Each row needs both an IdP group and a target.")
        rows.append(table.MappingRow(group=group, target=target_id))
    return rows


class MappingFormView(OrgActionView):
    capability = "admin.scim"
    back = "scim_mapping"

    def act(self, request: HttpRequest) -> str:
        return self.save(request, request.POST.get("direction", ""))

    def save(self, request: HttpRequest, direction: str) -> str:
        raise NotImplementedError


class TablePreviewView(MappingPageView):
    """What saving the posted table would change, shown on the page; nothing is saved."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        direction = request.POST.get("direction", "")
        try:
            rows = posted_rows(request, direction)
            pairs = table.mapping_rows_resolve(org=self.org, direction=direction, rows=rows)
        except ServiceError as exc:
            self.fail(exc)
            return redirect("governance:scim_mapping", slug=self.org.slug)
        plan = selectors.mapping_preview(org=self.org, direction=direction, rows=pairs)
        return render(
            request,
            "mapping/mapping.html",
            self.context(preview=plan, preview_rows=rows, preview_table=direction),
        )


class TableSaveView(MappingFormView):
    def save(self, request: HttpRequest, direction: str) -> str:
        job = table.mapping_table_replace(
            org=self.org,
            direction=direction,
            rows=posted_rows(request, direction),
            actor=request.user,
        )
        return (
            "Mapping table saved; everyone is being resynced."
            if job
            else "The mapping table did not change."
        )


class NameBasedView(MappingFormView):
    def save(self, request: HttpRequest, direction: str) -> str:
        typed = request.POST.get("confirm_text", "").strip().casefold()
        table.mapping_mode_set(
            org=self.org,
            direction=direction,
            use_table=False,
            confirm=typed == direction,
            actor=request.user,
        )
        return f"{direction.title()} now follow IdP group names."


class UseTableView(MappingFormView):
    def save(self, request: HttpRequest, direction: str) -> str:
        table.mapping_mode_set(
            org=self.org, direction=direction, use_table=True, actor=request.user
        )
        return f"{direction.title()} follow the mapping table again."


class SyncNowView(MappingFormView):
    def save(self, request: HttpRequest, direction: str) -> str:
        sync.mapping_sync_start(org=self.org, actor=request.user)
        return "Sync started."
