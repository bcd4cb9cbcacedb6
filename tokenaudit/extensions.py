"""Flask extensions, instantiated here and bound to the app in create_app()."""

from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from .rate_limiter import SkippingLimiter


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()

# Storage comes from RATELIMIT_STORAGE_URI: the app's database by default (config.py), or Redis.
limiter = SkippingLimiter(key_func=get_remote_address, headers_enabled=True)
