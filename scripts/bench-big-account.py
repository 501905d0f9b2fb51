"""Writes a large account's data in `alta-admin load-data`'s format, for scripts/bench:
10 inboxes, N campaigns (default 10,000) and M emails (default 100,000), spread over the
inboxes and campaigns, a year of history, bodies of a few hundred characters.

usage: bench-big-account.py <out.json> [campaigns] [emails]"""

import json
import random
import sys

out = sys.argv[1]
campaigns_n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
emails_n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
random.seed(7)
start = 1_764_547_200  # 2025-12-01
inboxes = [{"id": f"inbox_big_{i}", "name": f"Inbox {i}", "address": f"inbox{i}@big.example",
            "created_at": start + i} for i in range(10)]
statuses = ["active", "paused", "draft", "completed"]
campaigns = [{"id": f"camp_big_{i:05}", "name": f"Campaign {i}", "status": statuses[i % 4],
              "mode": "autopilot" if i % 2 else "copilot", "inbox_id": f"inbox_big_{i % 10}",
              "stats": {"sent": i * 3, "opened": i, "replied": i // 10},
              "created_at": start + 100 + i * 3000, "updated_at": start + 100 + i * 3000}
             for i in range(campaigns_n)]
words = "pricing renewal seats demo contract onboarding invoice meeting proposal follow-up".split()
emails = []
for i in range(emails_n):
    campaign = random.randrange(campaigns_n)
    subject = f"Re: {random.choice(words)} {random.choice(words)} #{i}"
    emails.append({"id": f"email_big_{i:06}", "inbox_id": f"inbox_big_{campaign % 10}",
                   "campaign_id": f"camp_big_{campaign:05}", "subject": subject,
                   "from": f"contact{i % 997}@customer{i % 89}.example", "to": "team@big.example",
                   "received_at": start + 1000 + i * 300,
                   "body": " ".join(random.choice(words) for _ in range(60))})
json.dump({"inboxes": inboxes, "campaigns": campaigns, "emails": emails}, open(out, "w"))
print(f"wrote {out}: {len(inboxes)} inboxes, {len(campaigns)} campaigns, {len(emails)} emails")
