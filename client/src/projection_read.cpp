// Client::read_projection: projection streams over the reader's readProjection page request.
#include <capnp/message.h>

#include <algorithm>
#include <limits>

#include "client_impl.h"
#include "even/client/client.h"
#include "even/client/projection_stream.h"
#include "even/schemas/reader.capnp.h"

namespace even::client {

ReadPage to_projection_page(wire::Decoded& d) {
  auto r = d.root<schema::ReaderReply>();
  if (r.isError()) throw_error(r.getError().getCode(), wire::text_string(r.getError().getMessage()));
  if (!r.isPage()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from the reader");
  auto p = r.getPage();
  ReadPage page;
  for (auto in : p.getEvents()) page.events.push_back(wire::decode(in));
  page.end = p.getEnd();
  page.next_stream_seq = StreamSeq(p.getNextStreamSeq());  // the projection sequence after the page
  auto seqs = p.getProjectionSeqs();
  if (seqs.size() == page.events.size())
    for (auto seq : seqs) page.projection_seqs.push_back(seq);
  return page;
}

std::future<ReadPage> Client::read_projection_page_async(const std::string& name, ProjectionSeq from,
                                                         std::size_t max_count) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<schema::ReaderRequest>();
  const auto id = impl_->reader.next_request_id();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(id);
  req.setMinGlobalSeq(impl_->reader.min_global_seq());
  auto r = req.initReadProjection();
  r.setName(wire::as_text(name));
  r.setFrom(from.value());
  r.setMaxCount(static_cast<std::uint32_t>(std::min<std::size_t>(max_count, std::numeric_limits<std::uint32_t>::max())));
  return impl_->reader.call_future<ReadPage>(id, wire::encode(msg), to_projection_page);
}

ProjectionEventStream Client::read_projection(const std::string& name, ProjectionSeq from, std::size_t max_count) {
  return ProjectionEventStream(*this, name, from, max_count);
}

ProjectionEventStream::ProjectionEventStream(Client& client, std::string name, ProjectionSeq from,
                                             std::size_t max_count)
    : client_(&client), name_(std::move(name)), remaining_(max_count), page_first_(from) {
  page_.end = true;
  page_.next_stream_seq = StreamSeq(from.value());
  if (remaining_ == 0) return;
  pending_ = client_->read_projection_page_async(name_, from, remaining_);
  take_page();
}

void ProjectionEventStream::take_page() {
  page_ = pending_.get();  // throws what the request threw
  index_ = 0;
  page_first_ = ProjectionSeq(page_.next_stream_seq.value() - static_cast<std::int64_t>(page_.events.size()));
  if (!page_.end && remaining_ > page_.events.size())
    pending_ = client_->read_projection_page_async(name_, ProjectionSeq(page_.next_stream_seq.value()),
                                                   remaining_ - page_.events.size());
}

const RecordedEvent* ProjectionEventStream::next() {
  for (;;) {
    if (remaining_ == 0) return nullptr;
    if (index_ < page_.events.size()) {
      --remaining_;
      last_seq_ = index_ < page_.projection_seqs.size()
                      ? ProjectionSeq(page_.projection_seqs[index_])
                      : ProjectionSeq(page_first_.value() + static_cast<std::int64_t>(index_));
      return &page_.events[index_++];
    }
    if (!pending_.valid()) return nullptr;
    take_page();
  }
}

}  // namespace even::client
