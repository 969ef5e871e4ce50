"""Feature schemas of a model's versions: what changed between two, and whether it may.

All versions of a model with one MAJOR number take the same input features (names, count and
order), so a client of 1.4.0 can call 1.5.0 unchanged. Changing the features needs a new MAJOR
version, and the change is recorded on it. A classifier's classes may change within a MAJOR
version; that change is recorded too. Pure functions: the validation service feeds them.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMES_SHOWN = 8  # names listed in a summary before "and N more"


@dataclass(frozen=True)
class SchemaFacts:
    """What validation read off one version that the schema rules compare."""

    version: str
    sort_key: int
    feature_names: list[str]
    classes: list | None

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])


@dataclass(frozen=True)
class SchemaVerdict:
    """The change against the previous accepted version (or None), and a problem, if any."""

    change: dict | None
    problem: str | None


def _names(items: list, limit: int = NAMES_SHOWN) -> str:
    shown = ", ".join(f'"{item}"' for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def schema_diff(before: SchemaFacts, after: SchemaFacts) -> dict:
    """The difference between two versions' features (and classes), with a sentence for people.

    With the count unchanged, a name that left and one that arrived at the same position count
    as a rename (a client that sends columns by position sees exactly that).
    """
    old, new = list(before.feature_names), list(after.feature_names)
    gone, arrived = set(old) - set(new), set(new) - set(old)
    pairs = zip(old, new, strict=True) if len(old) == len(new) else []
    renamed = [
        {"before": was, "after": now} for was, now in pairs if was in gone and now in arrived
    ]
    gone -= {pair["before"] for pair in renamed}
    arrived -= {pair["after"] for pair in renamed}
    removed = [name for name in old if name in gone]
    added = [name for name in new if name in arrived]
    new_name = {pair["before"]: pair["after"] for pair in renamed}
    kept_before = [new_name.get(name, name) for name in old if name not in gone]
    kept_after = [name for name in new if name not in arrived]
    reordered = kept_before != kept_after
    classes_added, classes_removed = [], []
    if before.classes is not None and after.classes is not None:
        classes_added = [c for c in after.classes if c not in before.classes]
        classes_removed = [c for c in before.classes if c not in after.classes]
    diff = {
        "compared_with": before.version,
        "n_features_before": len(old),
        "n_features_after": len(new),
        "features_changed": bool(removed or added or renamed or reordered),
        "features_added": added,
        "features_removed": removed,
        "features_renamed": renamed,
        "features_reordered": reordered,
        "classes_changed": bool(classes_added or classes_removed),
        "classes_added": classes_added,
        "classes_removed": classes_removed,
    }
    diff["summary"] = f"Compared with {before.version}: {_details(diff, after.classes)}."
    return diff


def _details(diff: dict, classes: list | None) -> str:
    before, after = diff["n_features_before"], diff["n_features_after"]
    if not diff["features_changed"]:
        parts = [f"the same {after} features"]
    else:
        parts = [f"features {before} → {after}" if before != after else f"{after} features"]
        if diff["features_removed"]:
            parts.append(f"removed {_names(diff['features_removed'])}")
        if diff["features_added"]:
            parts.append(f"added {_names(diff['features_added'])}")
        if diff["features_renamed"]:
            pairs = [f'"{p["before"]}" → "{p["after"]}"' for p in diff["features_renamed"]]
            shown = ", ".join(pairs[:NAMES_SHOWN])
            more = len(pairs) - NAMES_SHOWN
            parts.append(f"renamed {shown}" + (f" and {more} more" if more > 0 else ""))
        if diff["features_reordered"]:
            parts.append("in another order")
    if diff["classes_added"]:
        parts.append(f"classes added {_names(diff['classes_added'])}")
    if diff["classes_removed"]:
        parts.append(f"classes removed {_names(diff['classes_removed'])}")
    if classes is not None and not diff["classes_changed"]:
        parts.append("the same classes")
    return "; ".join(parts)


def check_schema(candidate: SchemaFacts, accepted: list[SchemaFacts]) -> SchemaVerdict:
    """Whether ``candidate`` may take its features, given the versions already accepted.

    Every accepted version of the same MAJOR must have the same features (the nearest one
    that differs is named). The change is recorded against the previous version in version
    order, whatever its MAJOR.
    """
    same_major = [v for v in accepted if v.major == candidate.major]
    below = sorted(
        (v for v in same_major if v.sort_key < candidate.sort_key), key=lambda v: -v.sort_key
    )
    above = sorted((v for v in same_major if v.sort_key > candidate.sort_key), key=_key)
    for other in below + above:
        diff = schema_diff(other, candidate)
        if diff["features_changed"]:
            return SchemaVerdict(change=diff, problem=_mismatch(candidate, diff, accepted))
    previous = [v for v in accepted if v.sort_key < candidate.sort_key]
    if not previous:
        return SchemaVerdict(change=None, problem=None)
    return SchemaVerdict(change=schema_diff(max(previous, key=_key), candidate), problem=None)


def _key(facts: SchemaFacts) -> int:
    return facts.sort_key


def _mismatch(candidate: SchemaFacts, diff: dict, accepted: list[SchemaFacts]) -> str:
    next_major = max(v.major for v in [*accepted, candidate]) + 1
    return (
        f"The features differ from version {diff['compared_with']} of this model "
        f"({_details(diff, None)}). Versions {candidate.major}.x of a model take the same "
        f"features: to change them, upload this file as a new MAJOR version "
        f"({next_major}.0.0)."
    )
