{#-
  SQL functions the models use to estimate tokens and to chunk text. They are created (or
  replaced) in the `intermediate` schema at the start of every run, so a change here takes
  effect on the next `dbt build`; after changing the chunking itself, rebuild the chunks with
  `--full-refresh`.
-#}

{% macro text_function(name) -%}
    intermediate.{{ name }}
{%- endmacro %}

{% macro create_text_functions() %}
create schema if not exists intermediate;

{#- A conservative estimate of all-MiniLM-L6-v2 word pieces: the larger of chars/3.2 and, per
    run of letters/digits, 1.4 or a piece per 4 characters (long identifiers split into many),
    plus one per other non-space character (punctuation, underscores, symbols: code and URLs are
    symbol-heavy). It overestimates English prose by about a third, which is the safety margin. -#}
create or replace function {{ text_function('token_estimate') }}(body text)
returns integer
language sql immutable parallel safe
as $fn$
    select ceil(greatest(
        char_length(body) / 3.2,
        coalesce((select sum(greatest(1.4, char_length(word[1]) / 4.0))
                  from regexp_matches(body, '([[:alnum:]]+)', 'g') as word), 0)
            + char_length(regexp_replace(body, '[[:alnum:][:space:]]', '', 'g'))
    ))::integer
$fn$;

{#- Splits text into units that each fit max_tokens, recursively: blocks separated by blank
    lines, then sentences (prose) or lines (code), then words, then fixed-size slices. Prose is
    always split into sentences so chunks can overlap by sentences; a code block stays whole when
    it fits. Each unit comes with the separator that joined it to the unit before it ("\n\n" marks
    the start of a paragraph or block), so packing can rebuild the text. -#}
create or replace function {{ text_function('chunk_units') }}(
    body text, is_code boolean, max_tokens integer, split_level integer default 0
)
returns table (unit text, separator text)
language plpgsql immutable parallel safe
as $fn$
declare
    pattern text;
    level_separator text;
    part text;
    sub record;
    is_first_sub boolean;
    slice_chars integer;
begin
    if split_level = 0 then
        pattern := '\n[ \t]*\n\s*';
        level_separator := E'\n\n';
    elsif split_level = 1 then
        pattern := case when is_code then '\n' else '(?<=[.!?;:])\s+' end;
        level_separator := case when is_code then E'\n' else ' ' end;
    elsif split_level = 2 then
        pattern := '\s+';
        level_separator := ' ';
    else
        -- 1.5 estimated tokens per character is the worst case of the estimate
        slice_chars := greatest(1, floor(max_tokens / 1.5)::integer);
        for i in 0 .. (char_length(body) - 1) / slice_chars loop
            unit := substr(body, i * slice_chars + 1, slice_chars);
            separator := '';
            return next;
        end loop;
        return;
    end if;

    for part in select piece from regexp_split_to_table(body, pattern) as piece loop
        part := case when is_code then rtrim(ltrim(part, E'\n'), E' \t\n') else btrim(part, E' \t\n') end;
        continue when part = '';
        if {{ text_function('token_estimate') }}(part) <= max_tokens
           and (is_code or split_level > 0) then
            unit := part;
            separator := level_separator;
            return next;
        else
            is_first_sub := true;
            for sub in select * from {{ text_function('chunk_units') }}(part, is_code, max_tokens, split_level + 1) loop
                unit := sub.unit;
                separator := case when is_first_sub then level_separator else sub.separator end;
                is_first_sub := false;
                return next;
            end loop;
        end if;
    end loop;
end
$fn$;

{#- Chunks a document: text that fits max_tokens stays whole. Longer text is packed greedily from
    its units; a paragraph (or code block) that fits a chunk on its own is not split across two,
    and prose chunks start with up to overlap_tokens of the previous chunk's last sentences.
    Every chunk's estimate is at most max_tokens (the estimate of joined units is at most the sum
    of theirs plus one per separator). -#}
create or replace function {{ text_function('chunk_text') }}(
    body text, kind text, max_tokens integer, overlap_tokens integer
)
returns table (chunk_position integer, chunk_text text)
language plpgsql immutable parallel safe
as $fn$
declare
    is_code boolean := kind = 'repository_file';
    units text[];
    separators text[];
    estimates integer[];
    paragraph_estimates integer[];  -- per unit: its whole paragraph's estimate, when it starts one
    unit_count integer;
    first_unit integer := 1;
    last_unit integer;
    tokens integer;
    next_first integer;
    overlap integer;
    room_needed integer;
    text_before_last text;
    moved_heading boolean;
begin
    if body is null or btrim(body) = '' then
        return;
    end if;
    chunk_position := 0;
    if {{ text_function('token_estimate') }}(body) <= max_tokens then
        chunk_text := body;
        return next;
        return;
    end if;

    with numbered as (
        select u.unit, u.separator, u.ordinal,
               {{ text_function('token_estimate') }}(u.unit) as estimate,
               count(*) filter (where u.separator = E'\n\n') over (order by u.ordinal) as paragraph
        from {{ text_function('chunk_units') }}(body, is_code, max_tokens) with ordinality as u(unit, separator, ordinal)
    ),
    measured as (
        select *, sum(estimate + 1) over (partition by paragraph) - 1 as paragraph_estimate
        from numbered
    )
    select array_agg(unit order by ordinal),
           array_agg(separator order by ordinal),
           array_agg(estimate order by ordinal),
           array_agg(case when separator = E'\n\n' then paragraph_estimate end order by ordinal)
      into units, separators, estimates, paragraph_estimates
      from measured;
    unit_count := coalesce(array_length(units, 1), 0);

    while first_unit <= unit_count loop
        last_unit := first_unit;
        tokens := estimates[first_unit];
        chunk_text := units[first_unit];
        -- +1 per join: the separator's own share of the estimate
        while last_unit < unit_count
              and tokens + 1 + estimates[last_unit + 1] <= max_tokens
              and not coalesce(paragraph_estimates[last_unit + 1] <= max_tokens
                               and tokens + 1 + paragraph_estimates[last_unit + 1] > max_tokens, false) loop
            last_unit := last_unit + 1;
            tokens := tokens + 1 + estimates[last_unit];
            text_before_last := chunk_text;
            chunk_text := chunk_text || separators[last_unit] || units[last_unit];
        end loop;
        -- A heading (a short paragraph without a sentence end) goes with the text it introduces.
        moved_heading := last_unit > first_unit and last_unit < unit_count
            and separators[last_unit] = E'\n\n' and separators[last_unit + 1] = E'\n\n'
            and estimates[last_unit] <= 24 and units[last_unit] !~ '[.!?;:,]$';
        if moved_heading then
            last_unit := last_unit - 1;
            chunk_text := text_before_last;
        end if;
        return next;
        chunk_position := chunk_position + 1;
        exit when last_unit >= unit_count;

        -- Overlap: repeat trailing units of this chunk, as long as they leave room for new text.
        next_first := last_unit + 1;
        overlap := 0;
        room_needed := case when coalesce(paragraph_estimates[next_first] <= max_tokens, false)
                            then paragraph_estimates[next_first] else estimates[next_first] end;
        if not is_code and not moved_heading then
            while next_first - 1 > first_unit
                  and overlap + estimates[next_first - 1] + 1 <= overlap_tokens
                  and overlap + estimates[next_first - 1] + 1 + room_needed + 1 <= max_tokens loop
                next_first := next_first - 1;
                overlap := overlap + estimates[next_first] + 1;
            end loop;
        end if;
        first_unit := next_first;
    end loop;
end
$fn$;
{% endmacro %}
