from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


class Me(APIView):
    """The token's owner, as TokenAudit's GET /api/v2/me/ shows a user."""

    def get(self, request):
        user = request.user
        return Response(
            {
                "id": user.id,
                "email": user.email,
                "name": user.get_full_name(),
                "is_superuser": user.is_superuser,
            }
        )


urlpatterns = [path("api/v2/me/", Me.as_view())]
