"""Transform rules: each type has what it needs, and reads views that exist before it."""

from __future__ import annotations

from uis_compiler import codes
from uis_compiler.models import Transform
from uis_compiler.rules.context import PROVIDER, Context
from uis_compiler.suggest import did_you_mean
from uis_compiler.types import Path

#: Fields each transform type cannot do without.
_NEEDS: dict[str, tuple[str, ...]] = {
    "sql": ("sql_query",),
    "spark": ("sql_query",),
    "flink": ("sql_query",),
    "python": ("python_module", "python_function"),
    "wasm": ("wasm_module",),
}


def check_transforms(ctx: Context) -> None:
    defined = [e.name for e in ctx.spec.provider.active_endpoints]
    grant = ctx.grants.for_tenant(ctx.spec.provider.tenant_id)
    for index, transform in enumerate(ctx.spec.provider.transforms):
        path: Path = (*PROVIDER, "transforms", index)
        why = grant.python_refusal(transform.python_module or "")
        if transform.type == "python" and transform.python_module and why is not None:
            ctx.report(
                codes.PYTHON_TRANSFORM_NOT_ALLOWED,
                (*path, "python_module"),
                why,
                "use a SQL transform, or ask the platform team to list the module "
                "(HEADWATER_GRANT_PYTHON_MODULES)",
            )
        for field in _NEEDS[transform.type]:
            if not getattr(transform, field):
                ctx.report(
                    codes.TRANSFORM_INCOMPLETE,
                    path,
                    f"a `{transform.type}` transform needs `{field}`",
                    f"add `{field}:` to transform `{transform.name}`",
                )
        _views(ctx, path, transform, defined)
        defined.append(transform.name)


def _views(ctx: Context, path: Path, transform: Transform, defined: list[str]) -> None:
    views = (transform.parameters or {}).get("views")
    if views is None:
        return
    if not isinstance(views, dict):
        ctx.report(
            codes.WRONG_TYPE,
            (*path, "parameters", "views"),
            "`parameters.views` must be a mapping of alias → view name",
        )
        return
    for alias, view in views.items():
        if view not in defined:
            later = view in ctx.views
            ctx.report(
                codes.VIEW_UNKNOWN,
                (*path, "parameters", "views", alias),
                f"view `{view}` "
                + ("is defined only after this transform" if later else "does not exist"),
                "move this transform after the one it reads"
                if later
                else (did_you_mean(str(view), defined) or f"views here: {', '.join(defined)}"),
            )
