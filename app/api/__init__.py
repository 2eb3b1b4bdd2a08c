"""Hand-written routes, written the way the database guide writes them."""

from fastapi import APIRouter

from app.api import items

router = APIRouter()
router.include_router(items.router)
