"""The smallest WSGI application, for hosting gunicorn through papa's socket activation."""
import os


def app(environ, start_response):
    body = ('hello from gunicorn worker %d\n' % os.getpid()).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
