"""A SentencePiece unigram ModelProto built in code from a vocabulary and its scores (for tensorflow-text's
SentencepieceTokenizer, which tokenises in-graph).

The `sentencepiece` pip package (home of sentencepiece_model.proto) is not installed, so the few ModelProto
fields needed are declared here with protobuf's descriptor machinery, with the field numbers of
sentencepiece_model.proto. Enum fields are declared as int32: the same varint on the wire.
The model does no normalisation of its own (identity, no dummy prefix, no whitespace handling): the
caller normalises and writes spaces as the metaspace "▁" before calling it.
"""
import functools
from typing import Sequence

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

# ModelProto.SentencePiece.Type and TrainerSpec.ModelType values.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4
UNIGRAM = 1

_INT32 = descriptor_pb2.FieldDescriptorProto.TYPE_INT32
_FLOAT = descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT
_BOOL = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED

# message name -> (field name, number, type, label, message type) in sentencepiece_model.proto.
_SCHEMA = {
    "SentencePiece": [("piece", 1, _STRING, _OPTIONAL, None), ("score", 2, _FLOAT, _OPTIONAL, None),
                      ("type", 3, _INT32, _OPTIONAL, None)],
    "TrainerSpec": [("model_type", 3, _INT32, _OPTIONAL, None), ("vocab_size", 4, _INT32, _OPTIONAL, None),
                    ("unk_id", 40, _INT32, _OPTIONAL, None), ("bos_id", 41, _INT32, _OPTIONAL, None),
                    ("eos_id", 42, _INT32, _OPTIONAL, None), ("pad_id", 43, _INT32, _OPTIONAL, None)],
    "NormalizerSpec": [("name", 1, _STRING, _OPTIONAL, None),
                       ("add_dummy_prefix", 3, _BOOL, _OPTIONAL, None),
                       ("remove_extra_whitespaces", 4, _BOOL, _OPTIONAL, None),
                       ("escape_whitespaces", 5, _BOOL, _OPTIONAL, None)],
    "ModelProto": [("pieces", 1, _MESSAGE, _REPEATED, "SentencePiece"),
                   ("trainer_spec", 2, _MESSAGE, _OPTIONAL, "TrainerSpec"),
                   ("normalizer_spec", 3, _MESSAGE, _OPTIONAL, "NormalizerSpec")],
}


@functools.lru_cache(maxsize=None)
def _model_proto_class():
    # A private pool: a real sentencepiece_model.proto (e.g. from transformers) may sit in the default one.
    proto = descriptor_pb2.FileDescriptorProto(name="models/encoder/sentencepiece_model_subset.proto",
                                               package="models_encoder_sentencepiece", syntax="proto2")
    for message, fields in _SCHEMA.items():
        descriptor = proto.message_type.add(name=message)
        for name, number, kind, label, type_name in fields:
            field = descriptor.field.add(name=name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = f".{proto.package}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{proto.package}.ModelProto"))


def unigram_model_proto(pieces: Sequence[str], scores: np.ndarray, unk_id: int,
                        user_defined: Sequence[int] = ()) -> bytes:
    """Serialised ModelProto of a unigram model over pieces (ids are list positions).

    user_defined: ids of pieces that, written in the text, are always taken whole (special tokens).
    """
    model = _model_proto_class()()
    types = {index: USER_DEFINED for index in user_defined}
    types[unk_id] = UNKNOWN
    for index, (piece, score) in enumerate(zip(pieces, scores)):
        model.pieces.add(piece=piece, score=float(score), type=types.get(index, NORMAL))
    model.trainer_spec.model_type = UNIGRAM
    model.trainer_spec.vocab_size = len(pieces)
    model.trainer_spec.unk_id = unk_id
    # Specials are added by the caller, never by SentencePiece.
    model.trainer_spec.bos_id = model.trainer_spec.eos_id = model.trainer_spec.pad_id = -1
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = False
    model.normalizer_spec.remove_extra_whitespaces = False
    model.normalizer_spec.escape_whitespaces = False
    return model.SerializeToString()
