"""A workspace's monthly budget: members read it, admins set it (the engine enforces it)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor
from workflows import selectors, services
from workflows.serializers import BudgetSerializer


class BudgetView(APIView):
    """`GET` the budget and what this month has used; `PUT` both limits (null = no limit) or
    `PATCH` one. Admin role to set."""

    @extend_schema(responses=BudgetSerializer)
    def get(self, request, workspace_pk: int):
        budget = selectors.get_budget(Actor.from_request(request), int(workspace_pk))
        return Response(BudgetSerializer(budget).data)

    @extend_schema(request=BudgetSerializer, responses=BudgetSerializer)
    def put(self, request, workspace_pk: int, partial: bool = False):
        actor = Actor.from_request(request)
        current = selectors.get_budget(actor, int(workspace_pk))
        data = BudgetSerializer(current, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        budget = services.set_budget(
            actor=actor,
            workspace=int(workspace_pk),
            monthly_cost_limit=values.get(
                "monthly_cost_limit", current.monthly_cost_limit if partial else None
            ),
            monthly_token_limit=values.get(
                "monthly_token_limit", current.monthly_token_limit if partial else None
            ),
        )
        return Response(BudgetSerializer(budget).data)

    @extend_schema(request=BudgetSerializer, responses=BudgetSerializer)
    def patch(self, request, workspace_pk: int):
        return self.put(request, workspace_pk, partial=True)
