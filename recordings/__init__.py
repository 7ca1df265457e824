"""Call recording: recordings and their files, storage, downloads, retention and legal hold,
the ACS recording routes and the recordings page. May import calls and what it imports.
"""
