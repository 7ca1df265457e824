"""The portal shell: navigation, the tenant switcher, the dashboard and page slots that
each app fills from its AppConfig. Nothing imports portal; it reads the other apps' configs.
"""
