FROM scratch
ADD busybox.tar /bin
CMD ["sh"]
