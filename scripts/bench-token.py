"""Prints an access token for demo@alta.local from the server at argv[1], obtained the way
a client does: register, the sign-in form, the code exchange with PKCE."""

import base64
import hashlib
import re
import secrets
import sys
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import httpx2

base = sys.argv[1]
redirect = "http://127.0.0.1:45000/callback"
with httpx2.Client(follow_redirects=False) as http:
    client_id = http.post(f"{base}/register", json={"client_name": "bench", "redirect_uris": [redirect]}).json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
                       "code_challenge": challenge, "code_challenge_method": "S256", "state": "s"})
    page = http.get(f"{base}/authorize?{query}")
    pending = unescape(re.search(r'name="request" value="([^"]+)"', page.text).group(1))
    # `account` chooses Acme at once (demo@ has two accounts; without it, the account page).
    answer = http.post(f"{base}/authorize", data={"request": pending, "email": "demo@alta.local",
                                                  "password": "alta-demo", "account": "acct_acme",
                                                  "decision": "allow"})
    code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
    tokens = http.post(f"{base}/token", data={"grant_type": "authorization_code", "client_id": client_id, "code": code,
                                              "redirect_uri": redirect, "code_verifier": verifier}).json()
    print(tokens["access_token"])
