-- Supervised fine-tuning pairs. The response is always the author's own text: a whole post, or
-- one section of an article; links and papers the user only supplied never appear. The
-- instruction is derived deterministically from the text (title, or the opening sentence of a
-- post), phrased as a request to write a LinkedIn post. Split train/validation by document with
-- a hash of the document id, so the split is stable across runs and a document never straddles it.

with

own_documents as (

    select * from {{ ref('documents') }}
    where is_own_writing and kind in ('post', 'article')

),

sections as (

    select
        own_documents.*,
        0 as section_position,
        own_documents.text as section_text
    from own_documents
    where kind = 'post'

    union all

    select
        own_documents.*,
        section.chunk_position as section_position,
        section.chunk_text as section_text
    from own_documents
    cross join lateral {{ text_function('chunk_text') }}(
        own_documents.text, own_documents.kind, {{ var('sft_section_max_tokens') }}, 0
    ) as section
    where kind = 'article'

),

topics as (

    select
        *,
        md5(document_id || '|' || section_position::text) as sample_id,
        {{ opening_sentence('section_text') }} as hook

    from sections

),

phrased as (

    select
        *,
        case
            when title is not null and section_position = 0 then '"' || title || '"'
            when title is not null then 'the part of "' || title || '" that begins: "' || hook || '"'
            else 'this idea: "' || hook || '"'
        end as topic,
        get_byte(decode(sample_id, 'hex'), 0) % 3 as template_number,
        (get_byte(decode(md5(document_id), 'hex'), 0) * 256
            + get_byte(decode(md5(document_id), 'hex'), 1)) % 100 as split_bucket

    from topics

),

final as (

    select
        ---------- ids
        sample_id,
        document_id,
        user_id,

        ---------- text
        platform,
        kind,
        case template_number
            when 0 then 'Write a LinkedIn post about ' || topic
            when 1 then 'Write a LinkedIn post in my voice about ' || topic
            else 'Draft a LinkedIn post for my network about ' || topic
        end as instruction,
        section_text as response,
        case when split_bucket < {{ var('sft_validation_percent') }} then 'validation' else 'train' end as split,

        ---------- numerics
        section_position as position,

        ---------- timestamps
        published_at

    from phrased

)

select * from final
