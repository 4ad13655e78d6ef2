"""A fixture corpus: 40 LinkedIn posts by one author (a data/ML engineer) with a recognisable voice:
a one-line hook, short lines, arrows, emoji, a closing question and hashtags.

``sft_rows(user_id)`` turns them into rows shaped like ``marts.sft_samples`` the way the dbt model
does (instruction from the opening line, split by a stable hash of the document id).
"""

from __future__ import annotations

import hashlib

from twin.core import vocabulary

POSTS = [
    """I deleted 40% of our data pipelines last quarter. 🔥

Nobody noticed.

→ 12 DAGs fed dashboards no one opened
→ 7 jobs copied the same table twice
→ 3 "critical" reports had 0 viewers since 2022

Less code = fewer 3am pages.

What would you delete first? 👇

#DataEngineering #Simplicity #TechDebt""",
    """Your model is not the product. 🚀

The product is:
→ the data that feeds it
→ the eval that guards it
→ the rollback when it breaks

Ship the boring parts first.

Agree? 👇

#MLOps #MachineLearning #AI""",
    """Hot take: most "AI projects" are data projects in a trench coat. 🧥

80% of my week:
→ fixing joins
→ chasing schema changes
→ explaining why the numbers moved

20%: the fun model stuff.

Same for you? 👇

#DataScience #AI #RealTalk""",
    """I failed my first ML interview. Badly. 😅

They asked me to explain overfitting.
I explained my entire thesis instead.

Lesson:
→ answer the question asked
→ then stop talking
→ let them pull the thread

Still working on the last one.

#CareerAdvice #MachineLearning #Interviews""",
    """Stop tuning hyperparameters. 🛑

Start looking at your data.

Last week:
→ 3 days of grid search: +0.4%
→ 2 hours cleaning labels: +6%

The data always wins.

What's your biggest "it was the data" moment? 👇

#MachineLearning #DataQuality #MLOps""",
    """Monday reminder: your dashboard is lying to you. 📊

Not on purpose.

→ a late batch
→ a silent null
→ a timezone nobody checked

Add one freshness test today.
Thank me on Friday.

#DataEngineering #Analytics #dbt""",
    """The best engineers I know write less code. ✍️

They write:
→ clear tickets
→ short design docs
→ tests that explain intent

Then the code almost writes itself.

Who taught you this? 👇

#SoftwareEngineering #Leadership #Craft""",
    """RAG is not magic. It's search with extra steps. 🔍

If your retrieval is bad:
→ the LLM will be confidently wrong
→ your users will stop trusting it
→ no prompt will save you

Fix recall first. Then talk to me about agents.

#RAG #LLM #AI""",
    """I said no to a promotion. 🙅‍♀️

Manager track. More money. Nice title.

But I love building.
I love the 2pm flow state.
I love shipping.

Career paths are not ladders. They're maps.

Ever said no to a "yes"? 👇

#Careers #Engineering #Growth""",
    """Fine-tuning a 7B model on a laptop? Don't. 💻

Do this instead:
→ LoRA on a small instruct model
→ 1 GPU, bf16, gradient checkpointing
→ eval against the base before you celebrate

Small and measured beats big and hopeful.

#LLM #FineTuning #MLOps""",
    """My team shipped on a Friday. On purpose. 😬

Here's why it was fine:
→ feature flag
→ canary at 5%
→ rollback in one click

Fear of Friday deploys = fear of your own pipeline.

Fix the pipeline.

#DevOps #ContinuousDelivery #Engineering""",
    """One question I ask in every design review: 🤔

"What happens when this fails?"

Not if. When.

→ retries?
→ idempotent writes?
→ who gets paged?

If nobody knows, we're not done.

#SystemDesign #Reliability #Engineering""",
    """Embeddings are the new indexes. 🧭

A year ago I'd never heard of HNSW.
Today it's in every project:
→ search
→ dedup
→ recommendations

Learn the basics once. Use them forever.

What are you embedding this week? 👇

#VectorSearch #AI #DataEngineering""",
    """I mentor 5 junior engineers. Same advice for all of them: 🌱

→ read the logs before asking
→ write down what you tried
→ ask early, not late

Curiosity + notes = superpowers.

What advice would you add? 👇

#Mentorship #CareerAdvice #Engineering""",
    """Your data warehouse is a junk drawer. 🗄️

Be honest.

→ tables named final_v2_real
→ columns nobody can explain
→ 9 definitions of "active user"

One owner per table. One definition per metric.

Start there.

#DataGovernance #Analytics #dbt""",
    """We cut our LLM bill by 70%. 💸

No magic:
→ cache repeated prompts
→ smaller model for easy requests
→ stop sending the whole PDF

Measure tokens like you measure latency.

What's your biggest cost win? 👇

#LLM #CostOptimization #AI""",
    """The most underrated skill in data: saying "I don't know yet." 🙋‍♀️

It buys you:
→ time to check
→ trust when you're right
→ forgiveness when you're wrong

Confidence is not certainty.

#DataScience #Leadership #Communication""",
    """Unpopular opinion: notebooks are not production. 📓

Love them for exploring.
Hate them at 3am.

→ no tests
→ hidden state
→ cells run out of order

Explore in notebooks. Ship in modules.

Fight me. 👇

#Python #MLOps #DataScience""",
    """I read 50 ML papers this year. Here are the 3 ideas I actually used: 📚

→ LoRA: fine-tune without melting your GPU
→ retrieval before generation
→ eval sets you never train on

Everything else was interesting. These were useful.

#MachineLearning #Research #AI""",
    """Burnout doesn't look like fire. It looks like fog. 🌫️

→ you stop caring about the edge cases
→ every meeting feels long
→ Sunday evenings feel heavy

Take the day off. The pipeline will wait.

Be kind to yourself this week. 💛

#MentalHealth #TechCareers #Wellbeing""",
    """A junior asked me: "How do you know when a model is good enough?" 🎯

My answer:
→ when it beats the baseline on held-out data
→ when the errors are ones users can live with
→ when you can roll it back

Perfect is a deadline killer.

#MachineLearning #ProductThinking #MLOps""",
    """We replaced a 2,000-line Python job with 40 lines of SQL. 🤯

Same output.
10x faster.
Readable by the whole team.

Use the boring tool that fits.

What did you simplify lately? 👇

#SQL #DataEngineering #Simplicity""",
    """Idempotency will save your weekend. 🛟

Run it twice → same result.
Crash halfway → just rerun.
Backfill a year → no duplicates.

If your job isn't idempotent, it's a time bomb.

#DataEngineering #Reliability #Pipelines""",
    """3 years ago I couldn't write a unit test. Now I won't merge without one. ✅

What changed:
→ a 2am incident
→ a bug that shipped twice
→ a teammate who showed me how

Tests are letters to your future self.

#Testing #SoftwareEngineering #Growth""",
    """Your LLM demo worked. Congrats. Now the hard part starts. 🎢

→ prompts drift
→ users type things you never imagined
→ latency doubles under load

Demos are easy. Products are evals + monitoring.

#LLM #AI #ProductEngineering""",
    """I keep a "wins" doc. You should too. 🏆

Every Friday, 5 minutes:
→ what I shipped
→ who I helped
→ what I learned

Review season? Already written.
Imposter syndrome? Scroll the doc.

#CareerAdvice #Productivity #Growth""",
    """Data contracts are just good manners. 🤝

"I will send you this column, with this type, at this time."

→ producers stop breaking consumers
→ alerts point at the right team
→ Monday standups get shorter

Be polite to your downstream.

#DataContracts #DataEngineering #Teams""",
    """The fastest way to learn a codebase: fix a tiny bug. 🐛

Not reading docs.
Not watching the architecture talk.

→ find the bug
→ trace it end to end
→ ship the fix

You'll learn more in a day than in a week of reading.

#Onboarding #SoftwareEngineering #Learning""",
    """Vector databases won't fix a bad chunking strategy. ✂️

→ chunks too big: noisy answers
→ chunks too small: no context
→ no overlap: lost sentences

Spend a day on chunking. Save a month of prompt hacks.

#RAG #VectorSearch #LLM""",
    """I got my first 10k impressions on a post about SQL joins. 😂

Not AI. Not startups.
Joins.

People want practical.
People want honest.

Write what you wish you'd read 3 years ago.

#Writing #LinkedIn #DataEngineering""",
    """What I look for when hiring data engineers: 🔎

→ they ask "who uses this?"
→ they test the edge case without being told
→ they can explain a join to a PM

Tools change. Judgment stays.

What's on your list? 👇

#Hiring #DataEngineering #Leadership""",
    """Every ML system needs a kill switch. 🔌

→ a flag to fall back to rules
→ a way to pin the old model
→ a human who can press it

Hope is not a rollback strategy.

#MLOps #Reliability #AI""",
    """I used to measure my day in commits. Now I measure it in unblocked people. 🧩

→ a quick review
→ a 10-minute pairing call
→ a doc that answers the question before it's asked

Senior means multiplier.

#Leadership #Engineering #Mentorship""",
    """Evaluation is the product. Let me explain. 📏

Without evals:
→ every change is a guess
→ every demo is a vibe check
→ every release is a gamble

Write 50 test prompts before your first fine-tune.

#LLM #Evaluation #MLOps""",
    """Postgres can do more than you think. 🐘

→ full-text search
→ vectors with pgvector
→ JSON documents
→ queues with SKIP LOCKED

Before adding a new database, ask: can Postgres do it?

Usually: yes.

#Postgres #DataEngineering #Simplicity""",
    """Remote work tip that changed my focus: 🎧

No meetings before 11.

→ mornings for deep work
→ afternoons for people
→ evenings for life

Guard your calendar like production credentials.

#RemoteWork #Productivity #Focus""",
    """Your first model should be a baseline. Not a transformer. 📉

→ logistic regression
→ a lookup table
→ "predict yesterday"

If the fancy model can't beat it, you just saved a quarter.

#MachineLearning #DataScience #Baselines""",
    """Fine-tuned a small model on my own posts this weekend. 🤖

Results:
→ it loves arrows a bit too much
→ it ends everything with a question
→ it uses way too many emoji

So... it's me. 😅

#LLM #FineTuning #AI""",
    """Schema changes broke prod again? Read this. 🧯

→ add columns, never rename in place
→ backfill before you switch readers
→ delete last, weeks later

Expand. Migrate. Contract.

Boring. Safe. Every time.

#Databases #DataEngineering #Reliability""",
    """Two years of posting on LinkedIn. What I learned: ✨

→ consistency beats virality
→ stories beat tips
→ replies beat likes

Thank you for reading, arguing and sharing. 💛

What should I write about next? 👇

#Writing #Community #LinkedIn""",
]


def document_id(user_id: int, index: int) -> str:
    return vocabulary.document_id(user_id, f"https://www.linkedin.com/posts/maya-okafor_{index}")


def sft_rows(user_id: int, posts: list[str] = POSTS) -> list[dict]:
    """Rows shaped like ``marts.sft_samples``; about a fifth of the documents are held out."""
    rows = []
    for index, post in enumerate(posts):
        doc_id = document_id(user_id, index)
        hook = post.strip().splitlines()[0]
        bucket = vocabulary.split_bucket(doc_id)
        rows.append(
            {
                "sample_id": hashlib.md5(f"{doc_id}|0".encode()).hexdigest(),
                "document_id": doc_id,
                "user_id": user_id,
                "instruction": f"Write a LinkedIn post about {hook}",
                "response": post,
                "split": "validation" if bucket < 20 else "train",
            }
        )
    # the split is by hash, so make sure a small corpus still has a held-out part
    if not any(row["split"] == "validation" for row in rows):
        for row in rows[:4]:
            row["split"] = "validation"
    return rows
