"""Small tasks the queue notebook (03) uses to show Celery's behaviour."""
