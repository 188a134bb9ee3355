"""Reports: the funnel, won and lost cards, time to won, tasks closed and overdue per person.

Every figure is one SQL aggregate (``service``) over what the caller may see (``access``), for
one product or for every product in sight (the team), over a period of whole local days.
"""
