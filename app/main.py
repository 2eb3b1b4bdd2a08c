"""The application: what this project chose; pgbe wires the rest (`pgbe.create_app`)."""

from app.api import auth as auth_api
from app.api import router as api_router
from app.bootstrap import create_first_admin
from app.config.auth import auth
from app.config.database import database
from app.config.settings import get_settings
from app.models import BaseModel
from app.resources import RESOURCES
from pgbe import AdminSite, create_app

app = create_app(
    settings=get_settings(),
    database=database,
    models=BaseModel,
    auth=auth,
    routers=[auth_api.router, api_router],
    resources=RESOURCES,
    admin=AdminSite(),
    on_startup=[create_first_admin],
)
