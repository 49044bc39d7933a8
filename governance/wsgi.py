import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
application = get_wsgi_application()
# Import every view now, not on a worker's first request: the URLconf pulls in pysaml2, whose
# XML-schema validators take about half a second of CPU to build. Under `gunicorn --preload`
# this happens once in the master, before the workers fork.
_views = get_resolver().url_patterns
