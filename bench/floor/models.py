from django.db import models


class FloorRow(models.Model):
    """What the one-row insert writes: about a call's worth of columns."""

    target = models.CharField(max_length=64)
    callback_uri = models.URLField(max_length=2048)
    context = models.CharField(max_length=256, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.target
