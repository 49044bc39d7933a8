"""Dashboard pages of the workspace: agents, workflows, runs, integrations, schedules and the
explainer. Each page shows only what the viewer may see; the server refuses the rest anyway."""

from workspace.views.explainer import ExplainerView
from workspace.views.integrations import (
    IntegrationConnectView,
    IntegrationDisconnectView,
    IntegrationsView,
)
from workspace.views.resources import (
    ResourceCreateView,
    ResourceDeleteView,
    ResourceDetailView,
    ResourceEditView,
    ResourceListView,
    ResourceRunView,
    ResourceShareView,
)
from workspace.views.runs import RunDetailView, RunListView
from workspace.views.schedules import ScheduleChangeView, ScheduleCreateView, SchedulesView

__all__ = [
    "ExplainerView",
    "IntegrationConnectView",
    "IntegrationDisconnectView",
    "IntegrationsView",
    "ResourceCreateView",
    "ResourceDeleteView",
    "ResourceDetailView",
    "ResourceEditView",
    "ResourceListView",
    "ResourceRunView",
    "ResourceShareView",
    "RunDetailView",
    "RunListView",
    "ScheduleChangeView",
    "ScheduleCreateView",
    "SchedulesView",
]
