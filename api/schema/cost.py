"""What an operation will cost, estimated before it runs, and the limits that estimate meets.

The estimate counts fields resolved: each field once per parent object, where a field with a
`first:` argument multiplies everything under it (so `runs(first: 200) { edges { node {
events(first: 200) { events { seq } } } } }` counts 40,000 `seq`). The cost limit bounds that
count: resolving fields is work on the event loop, which every other request waits for.
Spec texts sent to validateSpec and compileSpec are worked on in other processes: they are
bounded by their own limit (bytes a request may send) and, like the fields, spent from the
key's budget (api.ratelimit). The raw variables are checked for over-long lists first, so no
list is read into objects before its length is known.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.config import ApiConfig
from api.ratelimit import KeyBudget
from api.schema.errors import typed_error

#: Fields that take a spec text, and its argument.
SPEC_FIELDS = frozenset({"validateSpec", "compileSpec"})
#: What a KiB of spec text costs from the key's budget: validating it takes about as long (in a
#: spec worker) as resolving this many fields, so a 1 MiB spec costs 16,384.
FIELDS_PER_SPEC_KIB = 16
#: Introspection (`__schema`, `__type`) resolves the whole schema: it counts as this many fields.
INTROSPECTION_COST = 1000


class Estimator:
    """Walks one operation's selections with the schema's types and the request's variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        config: ApiConfig,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        #: The operation's variable defaults (what runs when a variable is not sent).
        self.defaults = defaults or {}
        self.config = config
        self.spec_bytes = 0
        #: What the spec texts cost the budget (not counted against the cost limit).
        self.spec_cost = 0

    def cost(self, operation: OperationDefinitionNode) -> int:
        self.defaults = {
            d.variable.name.value: int(d.default_value.value)
            for d in operation.variable_definitions or ()
            if isinstance(d.default_value, IntValueNode)
        } | dict(self.defaults)
        root = self.schema.get_root_type(operation.operation)
        return self._selections(operation.selection_set, root, 1) if root else 0

    def _selections(
        self, selections: SelectionSetNode, parent: GraphQLNamedType, times: int
    ) -> int:
        total = 0
        for field, on in self._fields(selections, parent):
            total += times
            if field.name.value in ("__schema", "__type"):
                total += times * INTROSPECTION_COST
                continue
            definition = getattr(on, "fields", {}).get(field.name.value)
            if field.name.value in SPEC_FIELDS:
                size = self._text_size(field)
                self.spec_bytes += size * times
                self.spec_cost += times * (size // 1024) * FIELDS_PER_SPEC_KIB
            if definition is None or field.selection_set is None:
                continue
            inner = times * self._page(field, definition)
            total += self._selections(field.selection_set, get_named_type(definition.type), inner)
        return total

    def _fields(
        self, selections: SelectionSetNode, parent: GraphQLNamedType
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        """The fields of a selection set with the type each is selected on, fragments inlined."""
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                on = (
                    self._type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                yield from self._fields(selection.selection_set, on or parent)
            elif isinstance(selection, FragmentSpreadNode):
                # Validation has refused unknown and cyclic fragments before this runs.
                fragment = self.fragments[selection.name.value]
                on = self._type(fragment.type_condition.name.value)
                yield from self._fields(fragment.selection_set, on or parent)

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name)

    def _argument(self, field: FieldNode, name: str) -> Any:
        for argument in field.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                name = value.name.value
                given = self.variables.get(name, self.defaults.get(name))
                # graphql-core takes 200.0 for the Int 200: so does the estimate.
                if isinstance(given, float) and given.is_integer():
                    return int(given)
                return given
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, StringValueNode):
                return value.value
            return None
        return None

    def _page(self, field: FieldNode, definition: Any) -> int:
        """How many objects a field with `first:` returns at most (1 for any other field)."""
        if "first" not in definition.args:
            return 1
        given = self._argument(field, "first")
        if not isinstance(given, int) or isinstance(given, bool):
            default = definition.args["first"].default_value
            given = default if isinstance(default, int) else self.config.default_page_size
        return max(0, min(given, self.config.max_page_size))

    def _text_size(self, field: FieldNode) -> int:
        text = self._argument(field, "text")
        return len(text.encode()) if isinstance(text, str) else 0


def longest_list(value: Any, path: str = "") -> tuple[int, str]:
    """The longest list anywhere in a JSON value, and where it is (``$filter.providerIds``)."""
    longest = (0, path)
    if isinstance(value, list):
        longest = (len(value), path)
        items: Iterator[tuple[str, Any]] = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    elif isinstance(value, dict):
        items = ((f"{path}.{k}", v) for k, v in value.items())
    else:
        return longest
    for where, item in items:
        if isinstance(item, list | dict):
            found = longest_list(item, where)
            if found[0] > longest[0]:
                longest = found
    return longest


def _refuse(message: str, code: str, **extensions: Any) -> None:
    raise typed_error(message, code, **extensions)


class QueryCost(SchemaExtension):
    """Refuses long variable lists, operations over the cost limit, and keys out of budget."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        config: ApiConfig = context.config
        variables = execution.variables or {}
        longest, where = longest_list(variables)
        if longest > config.max_list_items:
            _refuse(
                f"the variable ${where.lstrip('.')} holds {longest} items; at most "
                f"{config.max_list_items} are accepted in a list (split the request)",
                "LIMIT_EXCEEDED",
                limit=config.max_list_items,
            )
        document = execution.graphql_document
        operation = _operation(execution.operation_name, document.definitions if document else ())
        if operation is None:
            # graphql-core reports the missing or ambiguous operation itself.
            yield
            return
        fragments = {
            d.name.value: d
            for d in (document.definitions if document else ())
            if isinstance(d, FragmentDefinitionNode)
        }
        estimator = Estimator(execution.schema._schema, fragments, variables, config)
        cost = estimator.cost(operation)
        if cost > config.max_query_cost:
            _refuse(
                f"this operation would resolve about {cost:,} fields, over the limit of "
                f"{config.max_query_cost:,}: ask for fewer items (`first:`) or fewer nested lists",
                "QUERY_TOO_COMPLEX",
                cost=cost,
                limit=config.max_query_cost,
            )
        if estimator.spec_bytes > config.max_spec_bytes:
            _refuse(
                f"this request sends {estimator.spec_bytes:,} bytes of spec text to validate or "
                f"compile, over the limit of {config.max_spec_bytes:,}: send fewer aliases",
                "LIMIT_EXCEEDED",
                limit=config.max_spec_bytes,
            )
        principal = context.principal
        budget = getattr(context, "budget", None)
        if principal is not None and budget is not None:
            spent = cost + estimator.spec_cost
            _spend(budget, principal.key_id, spent, context, execution.operation_type)
        yield


def _spend(budget: KeyBudget, key_id: int, cost: int, context: Any, kind: Any) -> None:
    """Spends the operation's cost; refuses it (429 over HTTP) when the key has not enough."""
    wait = budget.spend(key_id, cost)
    # Over HTTP, the budget left goes back in headers (subscriptions have no response).
    response = context.response if kind is not OperationType.SUBSCRIPTION else None
    if response is not None:
        response.headers["X-RateLimit-Limit"] = str(budget.item.amount)
        response.headers["X-RateLimit-Remaining"] = str(budget.remaining(key_id))
    if wait is None:
        return
    if response is not None:
        response.status_code = 429
        response.headers["Retry-After"] = str(int(wait))
    _refuse(
        f"this key's request budget ({budget.item.amount:,} fields a minute) is spent; "
        f"retry in {int(wait)} s",
        "RATE_LIMITED",
        retryAfter=int(wait),
    )


def _operation(name: str | None, definitions: Any) -> OperationDefinitionNode | None:
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)
