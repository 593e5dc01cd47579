"""The tokenizer shared by training, fixtures and the Rust engine's golden data."""
from tokenizers import BertWordPieceTokenizer


def build_tokenizer(vocab_path, max_len=None):
    """BertWordPieceTokenizer from vocab.txt; post-processor [CLS] $A [SEP]; optional truncation."""
    tok = BertWordPieceTokenizer(
        vocab_path, lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True,
        unk_token="[UNK]", sep_token="[SEP]", cls_token="[CLS]", pad_token="[PAD]", mask_token="[MASK]",
        wordpieces_prefix="##",
    )
    if max_len is not None:
        tok.enable_truncation(max_length=max_len)
    else:
        tok.no_truncation()
    tok.no_padding()
    return tok
