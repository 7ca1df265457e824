"""GET /ping and POST /rows: the floor's two endpoints."""

from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.floor.models import FloorRow


class RowSerializer(serializers.ModelSerializer):
    class Meta:
        model = FloorRow
        fields = ["id", "target", "callback_uri", "context", "created_at"]


class Ping(APIView):
    def get(self, request):
        return Response({"ok": True})


class Rows(APIView):
    def post(self, request):
        serializer = RowSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=201)


urlpatterns = [path("ping", Ping.as_view()), path("rows", Rows.as_view())]
