"""Which failures count as the breakage a bisection hunts.

Signatures are compared by `build_monitor.builders.signatures.same_failure`, the one matcher;
this module only adds the rule for a bisection whose target failure has no signature.
"""

from __future__ import annotations

from collections.abc import Callable

from build_monitor.builders.signatures import same_failure

TargetMatcher = Callable[[str | None, str | None], bool]
"""`(target_signature, signature) -> bool`: whether a failure is the hunted one."""


def matches_target(target_signature: str | None, signature: str | None) -> bool:
    """Whether a failure with `signature` is the breakage whose signature is `target_signature`.

    A known target is matched with `same_failure`. A target without a signature (nothing could
    be recognised in its log) is matched only by failures without one: an unrecognised failure
    is not assumed to be a known breakage, nor a recognised failure to be the unknown one.
    """
    if target_signature is None or signature is None:
        return target_signature is None and signature is None
    return same_failure(target_signature, signature)
