"""A small labelled set shipped with the tests: documents on five themes, and queries each with
the documents a person would want back. Some queries share words with their answers (keyword
search finds them), some are paraphrases that share none (only meaning finds them)."""

DOCUMENTS = {
    # security
    "mfa": (
        "Two-factor authentication for every account",
        "Turn on two-factor authentication in your profile. Scan the QR code with an "
        "authenticator app and type the six-digit code. Keep the recovery codes somewhere safe.",
    ),
    "passwords": (
        "Password policy",
        "Passwords must be at least twelve characters long. Reused and leaked passwords are "
        "refused, and a password manager is recommended for every employee.",
    ),
    "sso": (
        "Single sign-on with the identity provider",
        "Employees log in through the company identity provider using SAML. Accounts are "
        "created on first login and disabled when the person leaves.",
    ),
    "phishing": (
        "Spotting phishing emails",
        "Fraudulent messages imitate colleagues or banks and ask you to click a link or share "
        "credentials. Report suspicious mail to the security team.",
    ),
    # finance
    "revenue": (
        "Quarterly revenue report",
        "Revenue grew eleven percent in the third quarter, driven by enterprise contracts. "
        "Gross margin held steady while operating expenses rose slightly.",
    ),
    "budget": (
        "Annual budget planning",
        "Each department submits its spending plan for next year by October. Finance "
        "consolidates the figures and the board approves the final budget.",
    ),
    "invoices": (
        "Paying supplier invoices",
        "Invoices are paid within thirty days once the purchase order and the delivery note "
        "match. Late payments incur interest charges.",
    ),
    "expenses": (
        "Expense claims for travel",
        "Submit receipts for hotels, flights and meals within two weeks of the trip. "
        "Claims above the limit need a manager's approval.",
    ),
    # people
    "hiring": (
        "How we hire engineers",
        "Candidates take a take-home exercise, then two interviews with the team. We aim to "
        "send an offer or a kind rejection within a week.",
    ),
    "onboarding": (
        "First week for new employees",
        "New starters get a laptop, meet their buddy and attend the welcome session. By "
        "Friday they ship a small change to production.",
    ),
    "vacation": (
        "Holiday and leave policy",
        "Everyone gets twenty-five days of paid leave a year. Request time off in the HR "
        "portal at least two weeks ahead.",
    ),
    "parental": (
        "Parental leave",
        "Parents receive sixteen weeks of fully paid leave after the birth or adoption of a "
        "child, which can be split into several blocks.",
    ),
    # engineering
    "migration": (
        "Database schema migrations",
        "Every schema change ships as a migration that can run while the service is up. Add "
        "columns first, backfill, then remove the old ones in a later release.",
    ),
    "deploy": (
        "Deploying to production",
        "Merges to the main branch build a container image; the pipeline rolls it out to a "
        "canary first, then to every server if error rates stay low.",
    ),
    "incident": (
        "Incident response runbook",
        "When the site is down, page the on-call engineer, open an incident channel, and post "
        "status updates every thirty minutes until service is restored.",
    ),
    "backups": (
        "Backups and restore drills",
        "The database is copied every night to another region. Once a quarter we restore a "
        "copy to prove the backups really work.",
    ),
    # marketing
    "campaign": (
        "Spring product campaign",
        "The campaign launches in March with a video, a landing page and paid ads aimed at "
        "small businesses that have outgrown spreadsheets.",
    ),
    "seo": (
        "Search engine optimisation checklist",
        "Write descriptive page titles, keep pages fast, link related articles together and "
        "earn links from reputable sites to rank higher in Google.",
    ),
    "social": (
        "Social media guidelines",
        "Post on LinkedIn and Twitter three times a week, answer comments within a day, and "
        "never share customer names without permission.",
    ),
    "newsletter": (
        "Monthly customer newsletter",
        "Each month we email customers a round-up of new features, a case study and upcoming "
        "webinars. Open rates are tracked per segment.",
    ),
}

# query -> the documents it should find
QUERIES = {
    "set up MFA": ["mfa"],
    "authenticator app code": ["mfa"],
    "how long must a password be": ["passwords"],
    "log in with the company account": ["sso", "mfa"],
    "scam emails asking for my login": ["phishing"],
    "how much money did we make last quarter": ["revenue"],
    "sales growth and profit": ["revenue"],
    "department spending plan": ["budget"],
    "pay a supplier bill": ["invoices"],
    "reimbursement for a business trip": ["expenses"],
    "recruiting software developers": ["hiring"],
    "interview process": ["hiring"],
    "what happens on my first day": ["onboarding"],
    "days off per year": ["vacation"],
    "time off after having a baby": ["parental"],
    "change the database tables safely": ["migration", "backups"],
    "release new code to servers": ["deploy"],
    "the website is broken, what do I do": ["incident"],
    "restore data after a disaster": ["backups"],
    "advertising launch for a new product": ["campaign"],
    "rank higher in Google": ["seo"],
    "posting on LinkedIn": ["social"],
    "email updates to customers": ["newsletter"],
}
