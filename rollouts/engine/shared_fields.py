"""Fields of the user's objects that the controller writes, and who else applies them.

The controller writes into a few objects the user declares: a Service's ``spec.selector`` (the
revision label), an Istio DestinationRule's ``spec.subsets`` (the same label) and a
VirtualService's ``spec.http`` (the weights). Each of these is one *atomic* field under
server-side apply: whoever applies it owns all of it. So when the user's manifest in Git sets the
field too, the GitOps agent that applies it and the controller share it: a plain server-side
re-apply conflicts with the controller's write, and a forced one (Flux) or a client-side one of a
custom resource overwrites it until the controller writes it again.

Where the manifest can leave the field out, that is the fix, and the field is then the
controller's alone (``spec.selector``, ``spec.subsets``: the controller writes them whole). A
VirtualService's routes are the user's and cannot be left out: its note says how to make an
overwrite harmless. A kind declares the field it writes (``Kind.writes``); the caches keep who
applies it, observe reports it (``SharedField``), the engine warns when it writes one, and
``lint`` notes it in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SHARED_FIELD_REASON", "SharedField", "WrittenField", "overwrite_consequence"]

SHARED_FIELD_REASON = "SharedField"
"""The reason of the Warning Event the engine records when it writes a field someone else applies."""


def overwrite_consequence(path: str) -> str:
    """What sharing ``path`` with the manifest's applier does, in one clause."""
    return (
        f"kube-rollouts writes {path}, one atomic field under server-side apply, so re-applying the "
        "manifest server-side (Flux; Argo CD with ServerSideApply=true; kubectl apply --server-side) "
        "conflicts with it or, forced, overwrites it until the controller writes it again"
    )


@dataclass(frozen=True, kw_only=True)
class WrittenField:
    """The field of a user's object the controller writes (dotted ``path``) and the manifest's fix."""

    path: str
    fix: str

    @property
    def keys(self) -> tuple[str, ...]:
        """``path`` as keys: ``("spec", "selector")``."""
        return tuple(self.path.split("."))


@dataclass(frozen=True, kw_only=True)
class SharedField:
    """A written field of one observed object that server-side appliers other than us own too."""

    kind: str
    name: str
    field: WrittenField
    appliers: tuple[str, ...]

    @property
    def message(self) -> str:
        """The Warning Event's text: which object, which field, who shares it, and the fix."""
        return (
            f"{self.kind} {self.name}: {self.field.path} is also applied by {', '.join(self.appliers)}; "
            f"{overwrite_consequence(self.field.path)}; {self.field.fix}"
        )
