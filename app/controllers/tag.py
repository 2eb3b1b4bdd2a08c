"""Tag controller."""

from __future__ import annotations

from app.controllers.base_controller import BaseController
from app.models.tag import Tag
from app.schemas.tag import TagCreate, TagUpdate


class TagController(BaseController[Tag, TagCreate, TagUpdate]):
    """Controller for tag operations."""

    def __init__(self) -> None:
        """Initialize with Tag model."""
        super().__init__(Tag)


tag_controller = TagController()
