// mail_lm_text: the text a language model reads from a message (docs/pretraining.md, "The
// word-level mail corpus"), on hand-written mail_text() outputs.
#include <gtest/gtest.h>

#include "models/data/mail.h"

namespace tessel::data {
namespace {

TEST(MailLmText, BodyOnlyLowerCasedWithoutEncodedBlobs) {
  // The Subject line is dropped, letters are lower-cased, and the 0x7f byte mail_text() puts
  // for control and non-ASCII bytes becomes a space.
  EXPECT_EQ(mail_lm_text("Subject: Buy NOW\nHello World\nCall 555-1234 \x7f today"),
            "hello world\ncall 555-1234   today");
  // A subject and no body, or nothing at all.
  EXPECT_EQ(mail_lm_text("Subject: only"), "");
  EXPECT_EQ(mail_lm_text(""), "");
  // A line of kMailBlobLine characters without a space goes with its newline; one character
  // shorter, or with a space, stays.
  const std::string blob(kMailBlobLine, 'A'), short_line(kMailBlobLine - 1, 'B');
  const std::string spaced = std::string(40, 'C') + " " + std::string(40, 'D');
  EXPECT_EQ(mail_lm_text("Subject:\nfirst\n" + blob + "\nlast"), "first\nlast");
  EXPECT_EQ(mail_lm_text("Subject:\nfirst\n" + short_line + "\nlast"),
            "first\n" + std::string(kMailBlobLine - 1, 'b') + "\nlast");
  EXPECT_EQ(mail_lm_text("Subject:\n" + spaced), std::string(40, 'c') + " " + std::string(40, 'd'));
  // An empty line either side of a dropped blob leaves one empty line, not two.
  EXPECT_EQ(mail_lm_text("Subject:\npara one\n\n" + blob + "\n\npara two"), "para one\n\npara two");
  // Trailing dropped lines leave no trailing newline.
  EXPECT_EQ(mail_lm_text("Subject:\ntext\n" + blob), "text");
}

// On mail_text's own output for a raw message: headers other than Subject never reach it.
TEST(MailLmText, FromARawMessage) {
  const std::string raw =
      "From: a@b.c\nTo: d@e.f\nSubject: Re: Lunch\nX-Spam: no\n\nSee you at NOON.\r\n\r\n"
      "<b>Bold</b> &amp; more\n";
  EXPECT_EQ(mail_lm_text(mail_text(raw)), "see you at noon.\n\nbold & more");
}

}  // namespace
}  // namespace tessel::data
